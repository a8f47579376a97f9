#!/usr/bin/env python3
"""Starts a program the way systemd's socket activation does, with sockets made to order.

  socket-activate.py SPEC... -- PROGRAM ARGS...

SPEC is NAME=tcp:HOST:PORT:BACKLOG, NAME=unix:PATH:BACKLOG, NAME=udp:HOST:PORT or NAME=tcp-unlistened:HOST:PORT.
The sockets become fds 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (this process's pid, kept by
exec), then PROGRAM replaces this process.
"""
import os, socket, sys

split = sys.argv.index("--")
specs, program = sys.argv[1:split], sys.argv[split + 1:]
sockets, names = [], []
for spec in specs:
    name, _, rest = spec.partition("=")
    kind, _, address = rest.partition(":")
    if kind in ("tcp", "tcp-unlistened"):
        host, port, *backlog = address.split(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        if kind == "tcp":
            s.listen(int(backlog[0]))
    elif kind == "unix":
        path, backlog = address.rsplit(":", 1)
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(int(backlog))
    elif kind == "udp":
        host, port = address.split(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((host, int(port)))
    else:
        sys.exit(f"unknown socket kind {kind}")
    sockets.append(s)
    names.append(name)

# Move them out of the way first: a socket may already sit on a target number.
high = [os.dup2(s.fileno(), 100 + index) for index, s in enumerate(sockets)]
for index, fd in enumerate(high):
    os.dup2(fd, 3 + index, inheritable=True)
    os.close(fd)
os.environ["LISTEN_FDS"] = str(len(sockets))
os.environ["LISTEN_FDNAMES"] = ":".join(names)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(program[0], program)

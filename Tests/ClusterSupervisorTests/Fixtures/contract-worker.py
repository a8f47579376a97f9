#!/usr/bin/env python3
"""A worker that reports what clusterd handed it, checked the way sd_listen_fds(3) checks it.

Serves HTTP on fd 3 (listen-fds) or on 127.0.0.1:$PORT (notify/tcp); every GET answers a JSON report.
"""
import json, os, socket, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

# Read before Python opens anything of its own.
fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
fd_targets = {}
for fd in fds:
    try:
        fd_targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass  # the directory listing's own fd, already closed

status = {}
with open("/proc/self/status") as f:
    for line in f:
        key, _, value = line.partition(":")
        status[key] = value.strip()

listen_pid = os.environ.get("LISTEN_PID")
report = {
    "pid": os.getpid(),
    "pgid": os.getpgid(0),
    "sid": os.getsid(0),
    "listen_pid": listen_pid,
    "listen_pid_matches": listen_pid is not None and int(listen_pid) == os.getpid(),
    "listen_fds": os.environ.get("LISTEN_FDS"),
    "listen_fdnames": os.environ.get("LISTEN_FDNAMES"),
    "notify_socket": os.environ.get("NOTIFY_SOCKET"),
    "port": os.environ.get("PORT"),
    "tenant": os.environ.get("CLUSTERD_TENANT"),
    "worker": os.environ.get("CLUSTERD_WORKER"),
    "extra": os.environ.get("EXTRA"),
    "argv": sys.argv,
    "cwd": os.getcwd(),
    "fds": fd_targets,
    "sig_blocked": status.get("SigBlk"),
    "sig_ignored": status.get("SigIgn"),
}

if report["listen_pid_matches"] and report["listen_fds"] == "1":
    server_socket = socket.socket(fileno=3)
    report["fd3_listening"] = server_socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    report["fd3_address"] = list(server_socket.getsockname())
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
else:
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server_socket.bind(("127.0.0.1", int(os.environ["PORT"])))
    server_socket.listen(128)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(report).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = server_socket
print(f"contract-worker pid={os.getpid()} ready", flush=True)
print("a line on stderr", file=sys.stderr, flush=True)

notify = os.environ.get("NOTIFY_SOCKET")
if notify and "--no-ready" not in sys.argv:
    address = "\0" + notify[1:] if notify.startswith("@") else notify
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"READY=1\nSTATUS=contract worker serving", address)

server.serve_forever()

#!/usr/bin/env python3
"""A worker that misbehaves, for the hostile-worker tests. Serves HTTP on fd 3 (listen-fds) or 127.0.0.1:$PORT,
answering every GET with 200 "<mode> from <tenant>", while it:

  flood                 writes ~100,000 lines a second to stdout, forever
  ignore-term           ignores SIGTERM (only SIGKILL stops it)
  stop-listening SECS   after its first response closes its listening socket (connections are then refused)
                        and exits SECS later: a worker clusterd still lists as ready that no longer accepts
  orphans PIDFILE       forks two children that ignore SIGTERM and sleep forever (in its process group), writes
                        their pids to PIDFILE, and exits after its first response, leaving them behind
"""
import os, signal, socket, sys, threading, time

mode = sys.argv[1]
tenant = os.environ.get("CLUSTERD_TENANT", "?")

if os.environ.get("LISTEN_FDS") == "1" and os.environ.get("LISTEN_PID") == str(os.getpid()):
    server = socket.socket(fileno=3)
else:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(os.environ["PORT"])))
    server.listen(128)

answered = threading.Event()


def serve(connection):
    with connection:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(4096)
            if not chunk:
                return
            data += chunk
        body = f"{mode} from {tenant}\n".encode()
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    answered.set()


def flood():
    # ~100,000 lines a second, far past the log's rate limit; not flat out, which on a 2-core machine would
    # starve the tests running beside this one rather than test clusterd.
    line = b"flood " * 20 + b"\n"
    chunk = line * 512
    while True:
        os.write(1, chunk)
        time.sleep(0.005)


if mode == "flood":
    threading.Thread(target=flood, daemon=True).start()
elif mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
elif mode == "orphans":
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            server.close()
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                time.sleep(1000)
        children.append(pid)
    with open(sys.argv[2] + ".new", "w") as file:
        file.write(" ".join(map(str, children)))
    os.rename(sys.argv[2] + ".new", sys.argv[2])

    def leave():
        answered.wait()
        time.sleep(0.2)
        print(f"hostile-worker: exiting, leaving children {children} behind", flush=True)
        os._exit(0)

    threading.Thread(target=leave, daemon=True).start()
elif mode == "stop-listening":
    def stop_listening():
        answered.wait()
        time.sleep(0.1)
        # shutdown() wakes the accept() below; the port then refuses connections.
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        print("hostile-worker: stopped listening", flush=True)
        time.sleep(float(sys.argv[2]))
        os._exit(0)

    threading.Thread(target=stop_listening, daemon=True).start()
else:
    sys.exit(f"hostile-worker: unknown mode {mode}")

print(f"hostile-worker {mode} serving", flush=True)
while True:
    try:
        connection, _ = server.accept()
    except OSError:
        time.sleep(1000)
    threading.Thread(target=serve, args=(connection,), daemon=True).start()

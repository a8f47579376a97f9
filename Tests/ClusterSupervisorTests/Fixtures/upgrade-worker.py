#!/usr/bin/env python3
"""A worker that accepts HTTP Upgrade (WebSocket-style): answers 101 and then echoes bytes until closed.

Plain GETs answer 200 "plain". Serves on fd 3 (listen-fds) or 127.0.0.1:$PORT.
"""
import os, socket, threading

if os.environ.get("LISTEN_FDS") == "1" and os.environ.get("LISTEN_PID") == str(os.getpid()):
    server = socket.socket(fileno=3)
else:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(os.environ["PORT"])))
    server.listen(128)


def serve(connection):
    with connection:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if b"upgrade: websocket" in head.lower():
            connection.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            if rest:
                connection.sendall(rest)
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                connection.sendall(chunk)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain")


print("upgrade-worker ready", flush=True)
while True:
    connection, _ = server.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()

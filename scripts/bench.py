#!/usr/bin/env python3
"""The benchmarks of scripts/bench (which installs the tools and builds the binaries first, then runs this).

    bench.py --bin DIR --worker PATH [router|coldstart|herd|scale|all] [--quick]

Every part uses 127.0.0.1 only, is bounded in time, runs the systems it compares in the same process,
interleaved (A B C D A B C D ...), over several rounds, and reports medians (and ratios). Every process it
starts is stopped before it returns. Tables go to stdout; progress to stderr.
"""

import argparse
import asyncio
import atexit
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BIN = ""
TINY = ""
QUICK = False
PROCESSES = []  # (Popen, name): stopped at exit, newest first
CLUSTERDS = set()  # names of clusterd processes (their workers are looked for at exit)
WORK = tempfile.mkdtemp(prefix="clusterd-bench-")


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def out(text=""):
    print(text, flush=True)


# MARK: - processes


def start(argv, name, env=None, log_name=None, **kwargs):
    """Starts a process in its own session (so its whole group can be stopped), logging to WORK/<name>.log."""
    path = os.path.join(WORK, (log_name or name) + ".log")
    handle = open(path, "ab")
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True, **kwargs
    )
    handle.close()
    PROCESSES.append((process, name))
    return process


def stop(process, timeout=20.0):
    """SIGTERM to the process (clusterd stops its router and workers itself), SIGKILL to its group after `timeout`."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        pass
    PROCESSES[:] = [(p, n) for p, n in PROCESSES if p is not process]


def stop_all():
    for process, _ in reversed(list(PROCESSES)):
        stop(process)


def cleanup():
    pids = [p.pid for p, n in PROCESSES if n in CLUSTERDS]
    stop_all()
    for pid in pids:
        kill_leftovers(pid)
    shutil.rmtree(WORK, ignore_errors=True)


atexit.register(cleanup)
for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(number, lambda *_: sys.exit(130))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    for name in sorted(os.listdir(WORK)):
        if name.endswith(".log"):
            with open(os.path.join(WORK, name), errors="replace") as f:
                log(f"--- {name} (last lines)\n" + "".join(f.readlines()[-15:]))
    raise SystemExit(f"bench: timed out waiting for {what}")


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# MARK: - HTTP by hand (timings without a client library in the way)


def http_get(port, host, path="/", timeout=30.0):
    """One request on a new connection: (status, headers dict, elapsed seconds)."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    elapsed = time.perf_counter() - started
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    return status, headers, elapsed


# MARK: - clusterd


class Control:
    """A control-channel client (JSON lines over the Unix socket), blocking."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self.next_id = 0
        self.events = []
        self.request("hello", versions=[1], client="bench")

    def send(self, op, **fields):
        self.next_id += 1
        self.sock.sendall((json.dumps({"id": self.next_id, "op": op, **fields}) + "\n").encode())
        return self.next_id

    def reply(self, request_id):
        while True:
            line = self.file.readline()
            if not line:
                raise SystemExit("bench: clusterd closed the control connection")
            message = json.loads(line)
            if "event" in message:
                self.events.append(message)
                continue
            if message.get("id") == request_id:
                if "error" in message:
                    raise SystemExit(f"bench: {message['error']}")
                return message["result"]

    def request(self, op, **fields):
        return self.reply(self.send(op, **fields))

    def next_event(self):
        if self.events:
            return self.events.pop(0)
        line = self.file.readline()
        if not line:
            raise SystemExit("bench: clusterd closed the control connection")
        message = json.loads(line)
        return message if "event" in message else self.next_event()

    def close(self):
        self.sock.close()


class Clusterd:
    """`clusterd start` (release build, with its router) on a generated tenants.conf."""

    def __init__(self, name, tenants_text, cluster_extra="", router=True):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        self.socket = os.path.join(self.dir, "control.sock")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "tenants.conf")
        with open(self.conf, "w") as f:
            f.write(
                f'[cluster]\ncontrol_socket = "{self.socket}"\nstate_dir = "{self.dir}/state"\n'
                f'domain = "bench.test"\n{cluster_extra}\n{tenants_text}'
            )
        argv = [f"{BIN}/clusterd", "start", "--tenants", self.conf, "--listen", f"127.0.0.1:{self.port}"]
        if not router:
            argv.append("--no-router")
        env = dict(os.environ, CLUSTERD_LOG_LEVEL="warning")
        CLUSTERDS.add(name)
        self.started = time.perf_counter()
        self.process = start(argv, name, env=env)
        wait_for(lambda: os.path.exists(self.socket) or self.process.poll() is not None, 60, "clusterd's socket")
        if self.process.poll() is not None:
            raise SystemExit(f"bench: clusterd exited; see {WORK}/{name}.log")
        if router:
            wait_for(lambda: accepts(self.port), 30, "the router")

    def router_pid(self):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if b"\0router\0" in f.read():
                            return int(pid)
            except OSError:
                continue
        return None

    def control(self):
        return Control(self.socket)

    def clusterctl(self, *args):
        return subprocess.run(
            [f"{BIN}/clusterctl", "--socket", self.socket, *args], capture_output=True, check=True
        ).stdout

    def stop(self):
        pid = self.process.pid
        stop(self.process, timeout=60)
        kill_leftovers(pid)


def kill_leftovers(clusterd_pid):
    """Workers of that clusterd still running (found by their NOTIFY_SOCKET): there should be none."""
    marker = f"NOTIFY_SOCKET=@clusterd/{clusterd_pid}/".encode()
    found = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if marker in f.read():
                        os.kill(int(pid), signal.SIGKILL)
                        found += 1
            except OSError:
                pass
    if found:
        log(f"bench: killed {found} processes left by clusterd {clusterd_pid}")


def free_ports(count):
    """The first port of a block of `count` free ports below the ephemeral range (other sessions run tests too)."""
    import random

    def free(port):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    for _ in range(200):
        low = random.randrange(10000, 32000 - count)
        if all(free(p) for p in range(low, low + count)):
            return f'ports = "{low}-{low + count - 1}"'
    raise SystemExit("bench: no block of free ports")


# MARK: - statistics and tables


def median(values):
    return statistics.median(values) if values else float("nan")


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def table(header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(
        str(cell).ljust(width) if i == 0 else str(cell).rjust(width) for i, (cell, width) in enumerate(zip(cells, widths))
    )
    out(line(header))
    out("  ".join("-" * width for width in widths))
    for row in rows:
        out(line(row))


def verdict(ok):
    return "met" if ok else "MISSED"


# MARK: - router


def wrk(url, connections, duration, host="bench.bench.test"):
    threads = 1 if connections == 1 else 2
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-H", f"Host: {host}", url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    )
    text = result.stdout

    def ms(value):
        number = float(re.match(r"[0-9.]+", value).group())
        if value.endswith("us"):
            return number / 1000
        if value.endswith("ms"):
            return number
        if value.endswith("s"):
            return number * 1000
        return number

    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    if errors or socket_errors:
        log(f"  wrk {url}: {errors.group(0) if errors else ''} {socket_errors.group(0) if socket_errors else ''}")
    return rps, p50, p99


def cpu_seconds(pids):
    """User plus system CPU time, in seconds, of the processes `pids` (all their threads)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid):
    """The pids of `pid`'s child processes (nginx's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def haproxy_config(port, backend, threads):
    return f"""global
    nbthread {threads}
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always
    option forwardfor
frontend bench
    bind 127.0.0.1:{port}
    default_backend worker
backend worker
    server w 127.0.0.1:{backend}
"""


def nginx_config(port, backend, workers, directory):
    return f"""worker_processes {workers};
daemon off;
user root;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_requests 100000000;
    upstream worker {{
        server 127.0.0.1:{backend};
        keepalive 64;
        keepalive_requests 100000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://worker;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


def wrk_rounds(targets, rounds, duration):
    """wrk at 64 connections, then 1, against each (name, port, pids) target, rounds interleaved; per connection
    count and target the medians of (req/s, p50 ms, p99 ms, CPU us per request of `pids`)."""
    for _, port, _ in targets:  # warm every path (connections, pools, caches)
        wrk(f"http://127.0.0.1:{port}/", 64, 1)
    results = {}
    for connections in (64, 1):
        runs = {name: [] for name, _, _ in targets}
        for round_number in range(rounds):
            for name, port, pids in targets:
                before = cpu_seconds(pids)
                rps, p50, p99 = wrk(f"http://127.0.0.1:{port}/", connections, duration)
                cpu_us = (cpu_seconds(pids) - before) / max(rps * duration, 1) * 1e6
                runs[name].append((rps, p50, p99, cpu_us))
            log(
                f"  -c{connections} round {round_number + 1}: "
                + " | ".join(
                    f"{name.split()[0]} {runs[name][-1][0]:.0f}/s p99 {runs[name][-1][2]:.2f}ms {runs[name][-1][3]:.1f}us"
                    for name, _, _ in targets
                )
            )
        results[connections] = {name: tuple(median([r[i] for r in runs[name]]) for i in range(4)) for name in runs}
    return results


def bench_router():
    rounds, duration = (2, 2) if QUICK else (5, 5)
    threads = os.cpu_count() or 2  # the router's event loops: MultiThreadedEventLoopGroup.singleton, one per core
    out(f"## router: wrk keep-alive, {rounds} rounds interleaved, {duration} s each, medians\n")
    cluster = Clusterd(
        "router",
        f'[tenant.bench]\ncommand = ["{BIN}/demo-worker", "--threads", "1"]\nmin_workers = 1\nqueue_limit = 10000\n',
        cluster_extra=free_ports(16) + "\nmax_workers = 16",
    )
    wait_for(lambda: http_get(cluster.port, "bench.bench.test")[0] == 200, 30, "the bench tenant's worker")
    status = json.loads(cluster.clusterctl("status", "--json"))
    worker_port = status["tenants"][0]["workers"][0]["port"]
    haproxy_port, nginx_port = free_port(), free_port()
    directory = os.path.join(WORK, "proxies")
    os.makedirs(directory, exist_ok=True)
    with open(f"{directory}/haproxy.cfg", "w") as f:
        f.write(haproxy_config(haproxy_port, worker_port, threads))
    with open(f"{directory}/nginx.conf", "w") as f:
        f.write(nginx_config(nginx_port, worker_port, threads, directory))
    haproxy = start(["haproxy", "-db", "-f", f"{directory}/haproxy.cfg"], "haproxy")
    nginx = start(["nginx", "-c", f"{directory}/nginx.conf", "-e", f"{directory}/nginx-error.log"], "nginx")
    wait_for(lambda: accepts(haproxy_port) and accepts(nginx_port), 15, "haproxy and nginx")
    worker_pid = status["tenants"][0]["workers"][0]["pid"]
    # (name, port, the pids whose CPU time is the proxy's): CPU per request shows what each proxy costs on a
    # machine where the client, the proxy and the worker share 2 cores.
    targets = [
        ("demo-worker direct", worker_port, [worker_pid]),
        ("clusterd router", cluster.port, [cluster.router_pid()]),
        ("HAProxy " + haproxy_version(), haproxy_port, [haproxy.pid]),
        ("nginx " + nginx_version(), nginx_port, children(nginx.pid)),
    ]
    log(
        f"router bench: demo-worker --threads 1 on :{worker_port} (the same process behind every proxy); "
        f"router {threads} event loops, haproxy nbthread {threads}, nginx worker_processes {threads}"
    )
    results = wrk_rounds(targets, rounds, duration)
    cluster.stop()
    stop_all()

    ours_name, haproxy_name, nginx_name = targets[1][0], targets[2][0], targets[3][0]
    for connections in (64, 1):
        out(f"wrk -t{1 if connections == 1 else 2} -c{connections} -d{duration}s (median of {rounds})\n")
        r = results[connections]
        table(
            ["target", "req/s", "p50 ms", "p99 ms", "CPU us/req"],
            [
                [name, f"{r[name][0]:.0f}", f"{r[name][1]:.3f}", f"{r[name][2]:.3f}", f"{r[name][3]:.1f}"]
                for name, _, _ in targets
            ],
        )
        ours = r[ours_name]
        out()
        table(
            ["ratio", "req/s", "p50", "p99", "CPU/req"],
            [
                [
                    f"ours/{name.split()[0]}",
                    f"{ours[0] / r[name][0]:.2f}x",
                    f"{ours[1] / r[name][1]:.2f}x",
                    f"{ours[2] / r[name][2]:.2f}x",
                    f"{ours[3] / r[name][3]:.2f}x",
                ]
                for name in (haproxy_name, nginx_name)
            ],
        )
        out("\n(CPU us/req: user + system CPU time of the proxy's processes, or the worker's when direct, per request)")
        ok = ours[0] >= r[haproxy_name][0] and ours[2] <= r[haproxy_name][2]
        out(f"\ntarget >= 1.0x HAProxy req/s with p99 no worse (-c{connections}): {verdict(ok)}\n")
    return results


def bench_haproxy():
    """Warm requests through HAProxy driven by `clusterd haproxy`, against HAProxy with a static config to the
    same worker, interleaved in one run."""
    rounds, duration = (2, 2) if QUICK else (5, 5)
    threads = os.cpu_count() or 2
    out(f"## HAProxy adapter: wrk keep-alive, {rounds} rounds interleaved, {duration} s each, medians\n")
    cluster = Clusterd(
        "haproxy-adapter",
        f'[tenant.bench]\ncommand = ["{BIN}/demo-worker", "--threads", "1"]\nmin_workers = 1\n',
        cluster_extra=free_ports(16) + "\nmax_workers = 16",
    )
    wait_for(lambda: http_get(cluster.port, "bench.bench.test")[0] == 200, 30, "the bench tenant's worker")
    status = json.loads(cluster.clusterctl("status", "--json"))
    worker_port = status["tenants"][0]["workers"][0]["port"]
    directory = os.path.join(WORK, "haproxy-adapter-files")
    adapted_port, static_port = free_port(), free_port()
    master = os.path.join(WORK, "haproxy-master.sock")
    adapter = start(
        [f"{BIN}/clusterd", "haproxy", "--control-socket", cluster.socket, "--directory", directory,
         "--bind", f"127.0.0.1:{adapted_port}", "--router", f"127.0.0.1:{cluster.port}", "--master-socket", master],
        "haproxy-adapter",
        env=dict(os.environ, CLUSTERD_LOG_LEVEL="warning"),
    )
    wait_for(lambda: os.path.exists(f"{directory}/haproxy.cfg"), 30, "the adapter's haproxy.cfg")
    adapted = start(["haproxy", "-W", "-S", master, "-f", f"{directory}/haproxy.cfg"], "haproxy-adapted")
    static_directory = os.path.join(WORK, "haproxy-static")
    os.makedirs(static_directory, exist_ok=True)
    with open(f"{static_directory}/haproxy.cfg", "w") as f:
        f.write(haproxy_config(static_port, worker_port, threads))
    static = start(["haproxy", "-db", "-f", f"{static_directory}/haproxy.cfg"], "haproxy-static")
    wait_for(lambda: accepts(adapted_port) and accepts(static_port), 15, "both HAProxies")
    # Until the adapter has set the worker's slot, requests go to the activator: wait for a direct answer.
    def direct():
        with socket.create_connection(("127.0.0.1", adapted_port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench.bench.test\r\nConnection: close\r\n\r\n")
            head = s.recv(65536)
        return b"clusterd_route=" in head and b"Max-Age=0" not in head
    wait_for(direct, 30, "the adapter to set the worker's slot")
    worker_pids = [p for p in children(adapted.pid)]
    targets = [
        ("adapted-HAProxy (clusterd haproxy)", adapted_port, worker_pids),
        ("static-HAProxy (fixed config)", static_port, [static.pid]),
    ]
    results = wrk_rounds(targets, rounds, duration)
    stop(adapter)
    cluster.stop()
    stop_all()
    ours, anchor = targets[0][0], targets[1][0]
    for connections in (64, 1):
        r = results[connections]
        out(f"wrk -t{1 if connections == 1 else 2} -c{connections} -d{duration}s (median of {rounds})\n")
        table(
            ["target", "req/s", "p50 ms", "p99 ms", "CPU us/req"],
            [[name, f"{r[name][0]:.0f}", f"{r[name][1]:.3f}", f"{r[name][2]:.3f}", f"{r[name][3]:.1f}"]
             for name, _, _ in targets],
        )
        ratio = r[ours][0] / r[anchor][0]
        out(f"\nadapted/static req/s: {ratio:.2f}x; target >= 0.95x (-c{connections}): {verdict(ratio >= 0.95)}\n")
    return results


def haproxy_version():
    text = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout
    return re.search(r"version (\S+)", text).group(1).split("-")[0]


def nginx_version():
    text = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr
    return re.search(r"nginx/(\S+)", text).group(1)


# MARK: - cold start


def socket_activated_cold(command, reps):
    """The worker alone: systemd-socket-activate holds the port and execs the worker on the first connection
    (LISTEN_FDS, as clusterd's listen-fds readiness passes it); time from sending the first request to its response."""
    times = []
    for _ in range(reps):
        port = free_port()
        process = start(["systemd-socket-activate", "-l", f"127.0.0.1:{port}", *command], "socket-activate")
        wait_for(lambda: listening(port), 10, "systemd-socket-activate")
        status, _, elapsed = http_get(port, "bench.bench.test")
        if status != 200:
            raise SystemExit(f"bench: socket-activated worker answered {status}")
        times.append(elapsed)
        stop(process, 5)
    return times


def listening(port):
    """Whether something listens on 127.0.0.1:port, without connecting (a connection would activate the worker)."""
    with open("/proc/net/tcp") as f:
        return any(
            line.split()[1] == f"0100007F:{port:04X}" and line.split()[3] == "0A" for line in f.readlines()[1:]
        )


def clusterd_cold(cluster, tenant, reps):
    """Through clusterd: the tenant has no worker; time from sending the request to the response. Between
    repetitions the tenant is drained and its worker waited out (worker-gone), so each request is a cold start."""
    control = cluster.control()
    control.request("subscribe")
    times, reported = [], []
    host = f"{tenant}.bench.test"
    for _ in range(reps):
        status, headers, elapsed = http_get(cluster.port, host)
        if status != 200 or "x-clusterd-cold-start" not in headers:
            raise SystemExit(f"bench: cold request answered {status} {headers}")
        times.append(elapsed)
        reported.append(float(headers["x-clusterd-cold-start"]))
        control.request("drain", tenant=tenant)
        while True:
            event = control.next_event()
            if event.get("event") == "worker-gone" and event.get("tenant") == tenant:
                break
        time.sleep(0.005)  # the router hears worker-draining before worker-gone; let it settle
    control.close()
    return times, reported


def bench_coldstart():
    reps = 30 if QUICK else 200
    out(f"## coldstart: first request to a cold tenant, {reps} repetitions each, interleaved by blocks\n")
    workers = [
        ("demo-worker", [f"{BIN}/demo-worker", "--threads", "1"]),
        ("tiny C worker", [TINY]),
    ]
    tenants = "".join(
        f'[tenant.cold{i}]\ncommand = {json.dumps(command)}\nidle_timeout = "10m"\n' for i, (_, command) in enumerate(workers)
    )
    cluster = Clusterd("coldstart", tenants, cluster_extra=free_ports(64) + "\nmax_workers = 64")
    http_get(cluster.port, "cold0.bench.test")  # warm the router's and clusterd's code paths once
    http_get(cluster.port, "cold1.bench.test")
    for i in range(2):
        cluster.control().request("drain", tenant=f"cold{i}")
    time.sleep(0.5)
    alone = {name: [] for name, _ in workers}
    through = {name: [] for name, _ in workers}
    reported = {name: [] for name, _ in workers}
    block = 10
    for start_rep in range(0, reps, block):
        n = min(block, reps - start_rep)
        for i, (name, command) in enumerate(workers):
            alone[name] += socket_activated_cold(command, n)
            t, r = clusterd_cold(cluster, f"cold{i}", n)
            through[name] += t
            reported[name] += r
        log(f"  coldstart: {start_rep + n}/{reps}")
    cluster.stop()
    rows, verdicts = [], []
    for name, _ in workers:
        a, t = [x * 1000 for x in alone[name]], [x * 1000 for x in through[name]]
        over50 = percentile(t, 50) - percentile(a, 50)
        over99 = percentile(t, 99) - percentile(a, 99)
        rows.append(
            [
                name,
                f"{percentile(a, 50):.2f}",
                f"{percentile(a, 99):.2f}",
                f"{percentile(t, 50):.2f}",
                f"{percentile(t, 99):.2f}",
                f"{over50:.2f}",
                f"{over99:.2f}",
                f"{percentile(reported[name], 50):.0f}",
            ]
        )
        verdicts.append((name, over50, over99))
    table(
        ["worker", "alone p50", "alone p99", "clusterd p50", "clusterd p99", "overhead p50", "overhead p99", "X-Cold-Start p50"],
        rows,
    )
    out("\n(ms; alone = under systemd-socket-activate, exec on the first connection; overhead = clusterd - alone)")
    for name, o50, o99 in verdicts:
        out(f"target <= 2 ms p50, <= 5 ms p99 overhead ({name}): {verdict(o50 <= 2 and o99 <= 5)}")
    out()


# MARK: - herd


async def herd_requests(port, host, count):
    async def one():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 60)
            writer.close()
            return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
        except (OSError, asyncio.TimeoutError, ValueError, IndexError):
            return -1

    started = time.perf_counter()
    statuses = await asyncio.gather(*(one() for _ in range(count)))
    return statuses, time.perf_counter() - started


def bench_herd():
    count = 1000
    rounds = 2 if QUICK else 5
    raise_nofile()
    out(f"## herd: {count} concurrent first requests to a cold tenant, {rounds} rounds (drained between)\n")
    workers = [("demo-worker", [f"{BIN}/demo-worker", "--threads", "1"]), ("tiny C worker", [TINY])]
    tenants = "".join(
        f'[tenant.herd{i}]\ncommand = {json.dumps(command)}\nqueue_limit = {count * 2}\nidle_timeout = "10m"\n'
        for i, (_, command) in enumerate(workers)
    )
    cluster = Clusterd("herd", tenants, cluster_extra=free_ports(64) + "\nmax_workers = 64")
    control = cluster.control()
    control.request("subscribe")
    rows, ok = [], True
    results = {name: [] for name, _ in workers}
    for round_number in range(rounds):
        for i, (name, _) in enumerate(workers):
            tenant = f"herd{i}"
            control.events.clear()
            statuses, elapsed = asyncio.run(herd_requests(cluster.port, f"{tenant}.bench.test", count))
            time.sleep(0.2)
            snapshot = control.request("status", tenant=tenant)
            spawns = sum(
                1 for e in control.events if e.get("event") == "worker-starting" and e.get("tenant") == tenant
            )
            live = len(snapshot["tenants"][0]["workers"])
            errors = sum(1 for s in statuses if s != 200)
            results[name].append((spawns, live, errors, elapsed))
            control.request("drain", tenant=tenant)
            while True:
                event = control.next_event()
                if event.get("event") == "worker-gone" and event.get("tenant") == tenant:
                    break
            time.sleep(0.05)
        log(f"  herd round {round_number + 1}: " + " | ".join(f"{n} {results[n][-1]}" for n, _ in workers))
    control.close()
    cluster.stop()
    for name, _ in workers:
        r = results[name]
        spawns = max(x[0] for x in r)
        errors = sum(x[2] for x in r)
        ok = ok and spawns == 1 and errors == 0
        rows.append(
            [
                name,
                ",".join(str(x[0]) for x in r),
                str(errors),
                f"{median([x[3] for x in r]) * 1000:.0f}",
                f"{max(x[3] for x in r) * 1000:.0f}",
            ]
        )
    table(["worker", "spawns per round", "errors (all rounds)", "all answered p50 ms", "max ms"], rows)
    out(f"\ntarget 1 spawn, 0 errors: {verdict(ok)}\n")


# MARK: - scale


def tune_os(needed_pids):
    notes = []
    nofile = raise_nofile()
    notes.append(f"RLIMIT_NOFILE raised to {nofile} for clusterd and the clients")
    low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    if low < 32000:
        notes.append(f"ip_local_port_range {low}-{high} overlaps the worker ports (below 32000): left as is, beware")
    else:
        notes.append(f"ip_local_port_range {low}-{high}: worker ports are taken below it, no tuning needed")
    pid_max = int(open("/proc/sys/kernel/pid_max").read())
    running = sum(1 for p in os.listdir("/proc") if p.isdigit())
    if pid_max - running < needed_pids:
        try:
            with open("/proc/sys/kernel/pid_max", "w") as f:
                f.write(str(pid_max + needed_pids))
            notes.append(f"kernel.pid_max raised from {pid_max} to {pid_max + needed_pids}")
        except OSError:
            notes.append(f"kernel.pid_max is {pid_max}: could not raise it")
    else:
        notes.append(f"kernel.pid_max {pid_max} leaves room for {needed_pids} more processes: untouched")
    return notes


async def activate_all(port, tenants, concurrency):
    semaphore = asyncio.Semaphore(concurrency)
    failures = []

    async def one(tenant):
        async with semaphore:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"GET / HTTP/1.1\r\nHost: {tenant}.bench.test\r\nConnection: close\r\n\r\n".encode())
                await writer.drain()
                data = await asyncio.wait_for(reader.read(), 60)
                writer.close()
                if not data.startswith(b"HTTP/1.1 200"):
                    failures.append((tenant, data[:80]))
            except (OSError, asyncio.TimeoutError) as error:
                failures.append((tenant, repr(error)))

    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in tenants))
    return time.perf_counter() - started, failures


def timed(argv, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def bench_scale():
    total, live = (10_000, 1_000)
    if QUICK:
        live = 300
    notes = tune_os(live + 2000)
    out(f"## scale: {total} tenants in tenants.conf, {live} activated and live at once (tiny C worker)\n")
    for note in notes:
        out(f"- OS: {note}")
    out("- the workers are the tiny C worker: 1,000 demo-workers (SwiftNIO, ~10 MB each) measure memory, not clusterd\n")
    tenants = "".join(f'[tenant.t{i}]\n' for i in range(total))
    cluster = Clusterd(
        "scale",
        f'[defaults]\ncommand = ["{TINY}"]\nidle_timeout = "30m"\nqueue_limit = 1000\n\n' + tenants,
        cluster_extra=free_ports(live + 200) + f"\nmax_workers = {live + 100}",
    )
    ctl = [f"{BIN}/clusterctl", "--socket", cluster.socket, "--timeout", "60"]
    wait_for(lambda: subprocess.run(ctl + ["status", "t0"], capture_output=True).returncode == 0, 120, "clusterd")
    loaded = time.perf_counter() - cluster.started
    time.sleep(1.0)
    idle_rss = rss_kib(cluster.process.pid)
    router = cluster.router_pid()
    idle_router_rss = rss_kib(router) if router else 0
    # Before: status and reload with 10,000 tenants and no worker.
    repeats = 3 if QUICK else 7
    before = {
        "status": median(timed(ctl + ["status"], repeats)),
        "status --json": median(timed(ctl + ["status", "--json"], repeats)),
        "reload": median(timed(ctl + ["reload"], repeats)),
    }
    elapsed, failures = asyncio.run(activate_all(cluster.port, [f"t{i}" for i in range(live)], 64))
    time.sleep(1.0)
    snapshot = json.loads(subprocess.run(ctl + ["status", "--json"], capture_output=True, check=True).stdout)
    running = sum(1 for t in snapshot["tenants"] for w in t["workers"] if w["state"] == "ready")
    live_rss = rss_kib(cluster.process.pid)
    live_router_rss = rss_kib(router) if router else 0
    after = {
        "status": median(timed(ctl + ["status"], repeats)),
        "status --json": median(timed(ctl + ["status", "--json"], repeats)),
        "reload": median(timed(ctl + ["reload"], repeats)),
    }
    # Idle-state cost per event: a request to a live tenant, through the router, while everything is up.
    still = sum(1 for t in json.loads(subprocess.run(ctl + ["status", "--json"], capture_output=True, check=True).stdout)["tenants"] for w in t["workers"] if w["state"] == "ready")
    cluster.stop()
    per_worker = (live_rss - idle_rss) / max(running, 1)
    table(
        ["measure", "value", "target", ""],
        [
            ["tenants in tenants.conf", str(total), "", ""],
            ["clusterd start until status answers", f"{loaded:.2f} s", "", ""],
            ["live workers (ready)", str(running), f">= {live}", verdict(running >= live)],
            ["activation failures", str(len(failures)), "0", verdict(not failures)],
            ["activation rate (64 at a time)", f"{live / elapsed:.0f}/s", "", ""],
            ["clusterd RSS, no worker", f"{idle_rss / 1024:.1f} MiB", "", ""],
            [f"clusterd RSS, {running} live", f"{live_rss / 1024:.1f} MiB", "", ""],
            ["clusterd RSS per live worker", f"{per_worker:.1f} KiB", "<= 50 KiB", verdict(per_worker <= 50)],
            ["router RSS, no worker / live", f"{idle_router_rss / 1024:.1f} / {live_router_rss / 1024:.1f} MiB", "", ""],
            ["clusterctl status, 0 live", f"{before['status'] * 1000:.0f} ms", "", ""],
            ["clusterctl status --json, 0 live", f"{before['status --json'] * 1000:.0f} ms", "", ""],
            ["clusterctl reload, 0 live", f"{before['reload'] * 1000:.0f} ms", "", ""],
            [f"clusterctl status, {running} live", f"{after['status'] * 1000:.0f} ms", "<= 100 ms", verdict(after["status"] <= 0.1)],
            [f"clusterctl status --json, {running} live", f"{after['status --json'] * 1000:.0f} ms", "<= 100 ms", verdict(after["status --json"] <= 0.1)],
            [f"clusterctl reload (nothing changed), {running} live", f"{after['reload'] * 1000:.0f} ms", "<= 200 ms", verdict(after["reload"] <= 0.2)],
            ["live workers after the reloads", str(still), str(running), verdict(still == running)],
        ],
    )
    if failures:
        log(f"  first failures: {failures[:5]}")
    out(f"\n(clusterctl times are wall time of the whole clusterctl process, median of {repeats})\n")


def main():
    global BIN, TINY, QUICK
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("parts", nargs="*", default=["all"])
    args = parser.parse_args()
    BIN, TINY, QUICK = args.bin, args.worker, args.quick
    parts = args.parts
    if "all" in parts:
        parts = ["router", "haproxy", "coldstart", "herd", "scale"]
    for part in parts:
        started = time.monotonic()
        {"router": bench_router, "haproxy": bench_haproxy, "coldstart": bench_coldstart, "herd": bench_herd, "scale": bench_scale}[part]()
        log(f"{part}: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Steady HTTP load for scripts/systemd-test, counted per phase.

    systemd-load.py load --port P --hosts acme.example.test,beta.example.test [--threads 8] [--phase NAME]
        Requests GET /count (a per-session counter in the worker's memory, cookie sid) in a loop from each
        thread, half of them on keep-alive connections and half on a fresh connection per request. Commands on
        stdin, one per line: "phase NAME" ends the current phase and starts NAME; "end" ends the last one and
        exits. When a phase ends, once every request it started has finished, one JSON line is printed:
        {"phase", "ok", "failed", "errors": {kind: n}, "retried", "resets", "p50_ms", "p99_ms", "max_ms"}.
        A request belongs to the phase it started in. A failure is anything but a 200: a status, a refused or
        reset connection, a timeout (--timeout, long enough to span a restart). "retried": requests sent on a
        reused keep-alive connection that the server had closed before answering, sent again once on a new
        connection (what RFC 9110 9.2.2 allows clients for idempotent requests); the retry's outcome counts.
        "resets": a session counter that went back, i.e. the worker holding the session was replaced.

    systemd-load.py inflight --port P --host H --count N --sleep-ms MS
        N concurrent GET /sleep?ms=MS, each on its own connection; prints one JSON line when all finished and
        exits 1 unless every one got a 200.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
from collections import Counter

PAUSE = 0.02  # between a thread's requests: ~50 requests/s per thread


class Phase:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.ok = 0
        self.errors = Counter()
        self.retried = 0
        self.resets = 0
        self.latencies = []
        self.in_flight = 0
        self.idle = threading.Condition(self.lock)

    def begin(self):
        with self.lock:
            self.in_flight += 1

    def record(self, error, latency, retried, reset):
        with self.lock:
            self.in_flight -= 1
            if error is None:
                self.ok += 1
            else:
                self.errors[error] += 1
            self.retried += retried
            self.resets += reset
            self.latencies.append(latency)
            if self.in_flight == 0:
                self.idle.notify_all()

    def summary(self, wait):
        with self.lock:
            self.idle.wait_for(lambda: self.in_flight == 0, timeout=wait)
            latencies = sorted(self.latencies)

            def quantile(q):
                return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else 0

            return {
                "phase": self.name,
                "ok": self.ok,
                "failed": sum(self.errors.values()),
                "errors": dict(self.errors),
                "retried": self.retried,
                "resets": self.resets,
                "unfinished": self.in_flight,
                "p50_ms": quantile(0.5),
                "p99_ms": quantile(0.99),
                "max_ms": quantile(1.0),
            }


class Client:
    """One thread's session: its cookies, its connection (kept alive or not), its last counter value."""

    def __init__(self, port, host, keep_alive, timeout):
        self.port, self.host, self.keep_alive, self.timeout = port, host, keep_alive, timeout
        self.connection = None
        self.used = False  # whether self.connection already carried a request
        self.cookies = {}
        self.last_count = 0

    def request(self):
        """Returns (error kind or None, retried, reset)."""
        retried = 0
        while True:
            reused = self.connection is not None and self.used
            try:
                status, body = self._exchange()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                self._close()
                if reused and not retried:
                    retried = 1
                    continue
                return self._kind(error, reused, retried), retried, 0
            except (OSError, http.client.HTTPException) as error:
                self._close()
                return self._kind(error, reused, retried), retried, 0
            if status != 200:
                return f"HTTP {status}", retried, 0
            reset = 0
            try:
                count = json.loads(body)["count"]
                reset = 1 if count <= self.last_count else 0
                self.last_count = count
            except (ValueError, KeyError):
                return "bad body", retried, 0
            return None, retried, reset

    @staticmethod
    def _kind(error, reused, retried):
        where = "on a retry" if retried else "on a kept-alive connection" if reused else "on a new connection"
        return f"{type(error).__name__} {where}"

    def _exchange(self):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.used = False
        headers = {"Host": self.host}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if not self.keep_alive:
            headers["Connection"] = "close"
        self.connection.request("GET", "/count", headers=headers)
        self.used = True
        response = self.connection.getresponse()
        body = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0].strip()
        if not self.keep_alive or response.will_close:
            self._close()
        return response.status, body

    def _close(self):
        if self.connection is not None:
            self.connection.close()
        self.connection = None


def load(arguments):
    hosts = arguments.hosts.split(",")
    current = [Phase(arguments.phase)]
    stopping = threading.Event()

    def run(index):
        client = Client(arguments.port, hosts[index % len(hosts)], keep_alive=index % 2 == 0, timeout=arguments.timeout)
        while not stopping.is_set():
            phase = current[0]
            phase.begin()
            started = time.monotonic()
            error, retried, reset = client.request()
            phase.record(error, time.monotonic() - started, retried, reset)
            time.sleep(PAUSE)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(arguments.threads)]
    for thread in threads:
        thread.start()

    def report(phase):
        print(json.dumps(phase.summary(wait=arguments.timeout + 5)), flush=True)

    # Bounded even if whoever drives it dies without closing stdin.
    watchdog = threading.Timer(arguments.max_seconds, lambda: os._exit(2))
    watchdog.daemon = True
    watchdog.start()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        ended = current[0]
        if words[0] == "phase" and len(words) == 2:
            current[0] = Phase(words[1])
            report(ended)
        elif words[0] == "end":
            stopping.set()
            report(ended)
            break
    stopping.set()
    for thread in threads:
        thread.join(timeout=arguments.timeout + 5)


def inflight(arguments):
    results = [None] * arguments.count

    def one(index):
        connection = http.client.HTTPConnection("127.0.0.1", arguments.port, timeout=arguments.timeout)
        try:
            connection.request("GET", f"/sleep?ms={arguments.sleep_ms}", headers={"Host": arguments.host})
            response = connection.getresponse()
            response.read()
            results[index] = "ok" if response.status == 200 else f"HTTP {response.status}"
        except (OSError, http.client.HTTPException) as error:
            results[index] = type(error).__name__
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(arguments.count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=arguments.timeout + 5)
    outcome = Counter(result or "unfinished" for result in results)
    print(json.dumps({"ok": outcome.pop("ok", 0), "failed": sum(outcome.values()), "errors": dict(outcome)}), flush=True)
    return 0 if all(result == "ok" for result in results) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    steady = commands.add_parser("load")
    steady.add_argument("--port", type=int, required=True)
    steady.add_argument("--hosts", required=True)
    steady.add_argument("--threads", type=int, default=8)
    steady.add_argument("--timeout", type=float, default=30.0)
    steady.add_argument("--phase", default="start", help="name of the first phase")
    steady.add_argument("--max-seconds", type=float, default=600.0, help="stop by itself after this long")
    slow = commands.add_parser("inflight")
    slow.add_argument("--port", type=int, required=True)
    slow.add_argument("--host", required=True)
    slow.add_argument("--count", type=int, default=8)
    slow.add_argument("--sleep-ms", type=int, default=3000)
    slow.add_argument("--timeout", type=float, default=30.0)
    arguments = parser.parse_args()
    if arguments.command == "load":
        load(arguments)
        return 0
    return inflight(arguments)


if __name__ == "__main__":
    sys.exit(main())

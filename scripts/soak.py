#!/usr/bin/env python3
"""The workload and the measurements of scripts/soak (which builds, starts clusterd and cleans up).

  soak.py config --out FILE --bin DIR --work DIR --ports LOW-HIGH
      writes the soak's tenants.conf
  soak.py run --clusterd-pid PID --router-port PORT --socket PATH --bin DIR --config FILE --log FILE
              --seconds N [--warmup N] [--interval N]
      drives load, operator and chaos loops against a running clusterd, samples it, prints the report;
      exit 0 when nothing grew or failed, 1 otherwise.

Phases: warm-up (everything runs, so that lazily allocated things exist), quiesce (load on every tenant but `steady`
stops, scales are reset, stopped tenants started; idle workers go), baseline sample, the soak proper, quiesce again,
final sample. Baseline and final are taken in the same quiet state (the same workers alive), so their fd, thread and
RSS counts compare; the samples in between (every --interval seconds) give the maxima. `steady` is loaded for the
whole run, and nothing else touches it.
"""

import argparse
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

DOMAIN = "soak.test"

# name: (tenants.conf lines, whether it crashes on purpose)
TENANTS = {
    "steady": ([], False),
    "alpha": (["max_workers = 3"], False),
    "bravo": (['command = ["{bin}/demo-worker", "--threads", "1", "--crash-after", "200"]', "max_workers = 2"], True),
    "charlie": (['command = ["{bin}/demo-worker", "--threads", "1", "--crash-after", "120"]'], True),
    "notify": (['readiness = "notify"'], False),
    "tcp": (['readiness = "tcp"'], False),
    "slowstart": (['command = ["{bin}/demo-worker", "--threads", "1", "--start-delay", "200"]'], False),
    "floor": (["min_workers = 1"], False),
}
STEADY = "steady"
OTHERS = [name for name in TENANTS if name != STEADY]
CRASHERS = {name for name, (_, crashes) in TENANTS.items() if crashes}
# Workers alive in the quiet state: steady's (under load) and floor's (min_workers = 1).
QUIET_WORKERS = 2

# Failure classification windows (seconds): a failure counts as caused by an action on its tenant when the action
# happened at most this long before the request ended. A crash-looping tenant is refused for up to its backoff.
ACTION_WINDOW = 10.0
CRASH_LOOP_WINDOW = 60.0
DISRUPTIVE = {"kill -9", "stop", "start"}

# Growth allowed from the baseline sample to the final one.
FD_TOLERANCE = 10
THREAD_TOLERANCE = 4
RSS_TOLERANCE = 0.30


def write_config(args):
    lines = [
        "[cluster]",
        f'control_socket = "{args.work}/control.sock"',
        f'state_dir = "{args.work}/state"',
        f'ports = "{args.ports}"',
        "max_workers = 64",
        f'domain = "{DOMAIN}"',
        "",
        "[defaults]",
        f'command = ["{args.bin}/demo-worker", "--threads", "1"]',
        'idle_timeout = "2s"',
        'start_timeout = "10s"',
        'stop_timeout = "3s"',
        'drain_timeout = "5s"',
        "",
    ]
    generations = json.loads(args.generations) if args.generations else {}
    for name, (extra, _) in TENANTS.items():
        lines.append(f"[tenant.{name}]")
        lines.extend(line.format(bin=args.bin) for line in extra)
        lines.append(f'env = {{ SOAK_GENERATION = "{generations.get(name, 0)}" }}')
        lines.append("")
    temporary = args.out + ".new"
    with open(temporary, "w") as file:
        file.write("\n".join(lines))
    os.replace(temporary, args.out)


# --- /proc ---------------------------------------------------------------------------------------------------------


def proc_stat(pid):
    """(state, ppid) of pid, or None."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def children(parent):
    """[(pid, state)] of parent's children."""
    result = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat and stat[1] == parent:
                result.append((int(entry), stat[0]))
    return result


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().split(b"\0")
    except OSError:
        return []


def router_pid(clusterd):
    for pid, state in children(clusterd):
        if state != "Z" and len(cmdline(pid)) > 1 and cmdline(pid)[1] == b"router":
            return pid
    return None


def measure(pid):
    """fds, RSS (KiB), threads and zombie children of pid; None when it is gone."""
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/status") as file:
            status = dict(line.split(":", 1) for line in file if ":" in line)
    except OSError:
        return None
    return {
        "fds": fds,
        "rss": int(status["VmRSS"].split()[0]),
        "threads": int(status["Threads"]),
        "zombies": sum(1 for _, state in children(pid) if state == "Z"),
    }


# --- HTTP load -----------------------------------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}  # tenant -> count
        self.failures = []  # (tenant, started, ended, what)
        self.steady_latency_max = 0.0
        self.steady_counts = []  # /count values seen by steady's keep-alive session
        self.steady_resets = 0

    def record(self, tenant, started, ended, failure):
        with self.lock:
            if failure is None:
                self.ok[tenant] = self.ok.get(tenant, 0) + 1
            else:
                self.failures.append((tenant, started, ended, failure))
            if tenant == STEADY:
                self.steady_latency_max = max(self.steady_latency_max, ended - started)

    def totals(self):
        with self.lock:
            return sum(self.ok.values()), len(self.failures)


class Client:
    """One load thread's connections (keep-alive per tenant) and cookie jars (per tenant)."""

    def __init__(self, port, stats):
        self.port = port
        self.stats = stats
        self.connections = {}
        self.cookies = {}

    def request(self, tenant, path, keep_alive):
        started = time.monotonic()
        failure, body = None, b""
        connection = self.connections.get(tenant) if keep_alive else None
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if keep_alive:
                    self.connections[tenant] = connection
            headers = {"Host": f"{tenant}.{DOMAIN}"}
            if not keep_alive:
                headers["Connection"] = "close"
            jar = self.cookies.setdefault(tenant, {})
            if jar:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                jar[name.strip()] = rest.split(";", 1)[0]
            if response.status != 200:
                reason = body.decode(errors="replace").strip().splitlines()
                failure = f"{response.status} {reason[0][:120] if reason else ''}".strip()
        except Exception as error:  # noqa: BLE001 -- every way a request can fail is a failure
            failure = f"{type(error).__name__}: {str(error)[:100]}"
            if connection is not None:
                connection.close()
            self.connections.pop(tenant, None)
        finally:
            if not keep_alive and connection is not None:
                connection.close()
        self.stats.record(tenant, started, time.monotonic(), failure)
        return failure, body

    def close(self):
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()


def steady_session(port, stats, stop):
    """Keep-alive /count on steady: the counter must go up by one each time (its worker is never touched)."""
    client = Client(port, stats)
    last = None
    while not stop.is_set():
        failure, body = client.request(STEADY, "/count", keep_alive=True)
        if failure is None:
            match = re.search(rb'"count":(\d+)', body)
            count = int(match.group(1)) if match else None
            if last is not None and count != last + 1:
                with stats.lock:
                    stats.steady_resets += 1
            last = count
        time.sleep(0.01)
    client.close()


def steady_fresh(port, stats, stop):
    """Fresh connections to steady: / and /sleep?ms=50."""
    client = Client(port, stats)
    while not stop.is_set():
        client.request(STEADY, random.choice(["/", "/sleep?ms=50"]), keep_alive=False)
        time.sleep(0.01)


class Schedule:
    """Which tenants (not steady) get load now: each is busy for 4-12 s, then quiet for 3-8 s -- longer than
    idle_timeout (2 s) plus the router's 1 s activity report, so that its workers idle out and start again."""

    def __init__(self):
        self.lock = threading.Lock()
        now = time.monotonic()
        self.until = {name: (random.random() < 0.7, now + random.uniform(0, 6)) for name in OTHERS}

    def busy(self):
        now = time.monotonic()
        with self.lock:
            for name, (busy, until) in self.until.items():
                if now >= until:
                    self.until[name] = (not busy, now + (random.uniform(3, 8) if busy else random.uniform(4, 12)))
            return [name for name, (busy, _) in self.until.items() if busy]


def general_load(port, stats, stop, schedule):
    """Random busy tenants (not steady), random requests, keep-alive or fresh."""
    client = Client(port, stats)
    while not stop.is_set():
        busy = schedule.busy()
        if not busy:
            time.sleep(0.05)
            continue
        tenant = random.choice(busy)
        path = random.choice(["/count", "/count", "/sleep?ms=50", "/", "/whoami"])
        client.request(tenant, path, keep_alive=random.random() < 0.6)
        time.sleep(random.uniform(0, 0.02))
    client.close()


# --- operator and chaos --------------------------------------------------------------------------------------------


class Actions:
    """What the operator and chaos loops did, when, to which tenant."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log = []  # (time, tenant or None for all, what)
        self.stopped = {}  # tenant -> stop time (until started again)
        self.stop_periods = []  # (tenant, from, to)
        self.results = {}  # what -> {"ok": n, "refused": n, "unreachable": n, ...}
        self.slowest = (0.0, "")
        self.kills = 0

    def note(self, tenant, what, at=None):
        with self.lock:
            self.log.append((at if at is not None else time.monotonic(), tenant, what))

    def result(self, what, outcome, seconds):
        with self.lock:
            counts = self.results.setdefault(what, {})
            counts[outcome] = counts.get(outcome, 0) + 1
            if seconds > self.slowest[0]:
                self.slowest = (seconds, what)

    def touching(self, tenant, started, ended, window):
        """The actions on tenant (or on every tenant) from `window` before `started` to `ended`."""
        with self.lock:
            return [w for t, who, w in self.log if (who == tenant or who is None) and started - window <= t <= ended]

    def was_stopped(self, tenant, started, ended):
        with self.lock:
            periods = self.stop_periods + [(who, since, float("inf")) for who, since in self.stopped.items()]
            return any(who == tenant and since <= ended and started <= until for who, since, until in periods)


class Operator:
    def __init__(self, args, actions):
        self.args = args
        self.actions = actions
        self.generations = {}
        self.scaled = set()
        self.stop_for = {}  # tenant -> seconds it stays stopped
        self.environment = dict(os.environ, CLUSTERD_SOCKET=args.socket)

    def clusterctl(self, *arguments, tenant=None, what=None):
        what = what or arguments[0]
        started = time.monotonic()
        self.actions.note(tenant, what, started)
        try:
            result = subprocess.run(
                [f"{self.args.bin}/clusterctl", "--timeout", "10", *arguments],
                env=self.environment,
                capture_output=True,
                timeout=30,
            )
            outcome = {0: "ok", 1: "refused", 3: "unreachable"}.get(result.returncode, f"exit {result.returncode}")
            if result.returncode not in (0, 1):
                print(f"  clusterctl {' '.join(arguments)}: exit {result.returncode}: "
                      f"{result.stderr.decode(errors='replace').strip()}", flush=True)
        except subprocess.TimeoutExpired:
            outcome = "hung (30 s)"
        self.actions.result(what, outcome, time.monotonic() - started)
        self.actions.note(tenant, what)
        return outcome

    def start(self, tenant):
        self.clusterctl("start", tenant, tenant=tenant)
        with self.actions.lock:
            since = self.actions.stopped.pop(tenant, None)
            if since is not None:
                self.actions.stop_periods.append((tenant, since, time.monotonic()))

    def rewrite(self):
        generations = json.dumps(self.generations)
        write_config(argparse.Namespace(out=self.args.config, bin=self.args.bin, work=self.args.work,
                                        ports=self.args.ports, generations=generations))

    def step(self):
        now = time.monotonic()
        with self.actions.lock:
            due = [t for t, since in self.actions.stopped.items() if now - since >= self.stop_for.get(t, 3)]
        if due:
            self.start(due[0])
            return
        tenant = random.choice(OTHERS)
        choice = random.choices(
            ["scale3", "scale0", "restart", "drain", "stop", "reload", "reload-env"],
            weights=[2, 2, 2, 2, 1, 1, 1],
        )[0]
        if choice == "scale3":
            self.scaled.add(tenant)
            self.clusterctl("scale", f"{tenant}=3", tenant=tenant, what="scale 3")
        elif choice == "scale0":
            self.clusterctl("scale", f"{tenant}=0", tenant=tenant, what="scale 0")
        elif choice == "stop":
            with self.actions.lock:
                if tenant in self.actions.stopped:
                    return
                self.actions.stopped[tenant] = time.monotonic()
            self.stop_for[tenant] = random.uniform(2, 5)
            self.clusterctl("stop", tenant, tenant=tenant)
        elif choice == "reload":
            self.clusterctl("reload", what="reload (unchanged)")
        elif choice == "reload-env":
            self.generations[tenant] = self.generations.get(tenant, 0) + 1
            self.rewrite()
            self.clusterctl("reload", tenant=tenant, what="reload (env changed)")
        else:
            self.clusterctl(choice, tenant, tenant=tenant)

    def run(self, stop):
        while not stop.is_set():
            self.step()
            stop.wait(random.uniform(0.7, 1.3))

    def settle(self):
        """Back to the quiet state: every stopped tenant started, every scale reset."""
        with self.actions.lock:
            stopped = list(self.actions.stopped)
        for tenant in stopped:
            self.start(tenant)
        for tenant in sorted(self.scaled):
            self.clusterctl("scale", f"{tenant}=0", tenant=tenant, what="scale 0")
        self.scaled.clear()


def live_workers(clusterd):
    router = router_pid(clusterd)
    return [pid for pid, state in children(clusterd) if state != "Z" and pid != router]


def worker_tenant(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            for entry in file.read().split(b"\0"):
                if entry.startswith(b"CLUSTERD_TENANT="):
                    return entry.split(b"=", 1)[1].decode()
    except OSError:
        pass
    return None


def chaos(clusterd, actions, stop):
    """kill -9 of a random worker (never steady's) every 2-4 s."""
    while not stop.wait(random.uniform(2, 4)):
        victims = [(pid, worker_tenant(pid)) for pid in live_workers(clusterd)]
        victims = [(pid, tenant) for pid, tenant in victims if tenant and tenant != STEADY]
        if not victims:
            continue
        pid, tenant = random.choice(victims)
        actions.note(tenant, "kill -9")
        try:
            os.kill(pid, signal.SIGKILL)
            with actions.lock:
                actions.kills += 1
        except ProcessLookupError:
            pass


# --- sampling and the report ---------------------------------------------------------------------------------------


class Sampler:
    def __init__(self, clusterd, stats, began):
        self.clusterd = clusterd
        self.stats = stats
        self.began = began
        self.samples = []  # (label, clusterd measures, router measures, workers)
        self.router_pids = []

    def sample(self, label=""):
        clusterd = measure(self.clusterd)
        router = router_pid(self.clusterd)
        if router is not None and (not self.router_pids or self.router_pids[-1] != router):
            self.router_pids.append(router)
        routed = measure(router) if router else None
        workers = len(live_workers(self.clusterd))
        self.samples.append((label, clusterd, routed, workers))
        ok, failed = self.stats.totals()

        def show(m):
            if m is None:
                return "GONE"
            return f"fds={m['fds']:<4} rss={m['rss'] / 1024:6.1f}MiB threads={m['threads']:<3} zombies={m['zombies']}"

        print(f"[{time.monotonic() - self.began:6.0f}s] clusterd {show(clusterd)} | router {show(routed)} | "
              f"workers={workers:<3} requests ok={ok} failed={failed} {label}", flush=True)
        return clusterd, routed

    def run(self, stop, interval):
        while not stop.wait(interval):
            self.sample()


def quiesce(operator, sampler, clusterd, label, timeout=45):
    operator.settle()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(live_workers(clusterd)) > QUIET_WORKERS:
        time.sleep(0.5)
    settled = len(live_workers(clusterd)) <= QUIET_WORKERS
    time.sleep(2)
    # A child that has just exited is a zombie until clusterd reaps it: give it a moment before calling it leaked.
    for _ in range(10):
        result = sampler.sample(label)
        if all(m and m["zombies"] == 0 for m in result):
            break
        time.sleep(0.5)
    return result, settled


def run_phase(args, stats, actions, operator, clusterd, seconds):
    stop = threading.Event()
    schedule = Schedule()
    threads = [
        threading.Thread(target=general_load, args=(args.router_port, stats, stop, schedule)) for _ in range(6)
    ]
    threads.append(threading.Thread(target=operator.run, args=(stop,)))
    threads.append(threading.Thread(target=chaos, args=(clusterd, actions, stop)))
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()


def classify(stats, actions):
    """steady / expected (stopped, killed or self-crashing tenant) / graceful (only scale, restart, drain, reload
    nearby) / untouched (nothing nearby)."""
    classes = {"steady": [], "expected": [], "graceful": [], "untouched": []}
    for tenant, started, ended, what in stats.failures:
        if tenant == STEADY:
            kind = "steady"
        else:
            nearby = set(actions.touching(tenant, started, ended, ACTION_WINDOW))
            crash_loop = "is failing" in what and actions.touching(tenant, started, ended, CRASH_LOOP_WINDOW)
            if tenant in CRASHERS or nearby & DISRUPTIVE or crash_loop or actions.was_stopped(tenant, started, ended):
                kind = "expected"
            elif nearby:
                kind = "graceful"
            else:
                kind = "untouched"
        classes[kind].append((tenant, what))
    return classes


def log_counts(path):
    """Workers started, failed (crashed) and idled out, in total and per tenant, and how often steady's worker
    stopped (nothing of the soak stops it: that is something else on the host signalling it)."""
    started, crashes, killed, idle, per_tenant, steady_stops = 0, 0, 0, 0, {}, 0
    with open(path, errors="replace") as file:
        for line in file:
            if "[ClusterSupervisor] worker " not in line:
                continue
            if "tenant=steady " in line and line.rstrip().endswith(("worker draining", "worker failed")):
                if "reason=shutdown" not in line:
                    steady_stops += 1
            tenant = re.search(r"tenant=(\S+)", line)
            tenant = tenant.group(1) if tenant else "?"
            counts = per_tenant.setdefault(tenant, [0, 0, 0])
            if line.rstrip().endswith("worker starting"):
                started += 1
                counts[0] += 1
            elif line.rstrip().endswith("worker failed"):
                crashes += 1
                counts[1] += 1
                killed += "signal 9 (SIGKILL)" in line
            elif line.rstrip().endswith("worker draining") and "reason=idle" in line:
                idle += 1
                counts[2] += 1
    return started, crashes, killed, idle, per_tenant, steady_stops


def report(args, sampler, stats, actions, baseline, final, settled):
    problems = []
    print("\n=== soak report ===")
    print(f"{'':22}{'start':>10}{'end':>10}{'max':>10}")
    for index, who in ((0, "clusterd"), (1, "router")):
        for key, unit in (("fds", ""), ("rss", "KiB"), ("threads", ""), ("zombies", "")):
            values = [s[1 + index][key] for s in sampler.samples if s[1 + index]]
            start = baseline[index][key] if baseline[index] else None
            end = final[index][key] if final[index] else None
            print(f"{who + ' ' + key + (' (' + unit + ')' if unit else ''):22}"
                  f"{str(start):>10}{str(end):>10}{str(max(values) if values else None):>10}")
        if baseline[index] is None or final[index] is None:
            problems.append(f"{who} is gone")
            continue
        start, end = baseline[index], final[index]
        if end["fds"] - start["fds"] > FD_TOLERANCE:
            problems.append(f"{who} fds grew {start['fds']} -> {end['fds']} (tolerance +{FD_TOLERANCE})")
        if end["threads"] - start["threads"] > THREAD_TOLERANCE:
            problems.append(f"{who} threads grew {start['threads']} -> {end['threads']} (+{THREAD_TOLERANCE})")
        if end["rss"] > start["rss"] * (1 + RSS_TOLERANCE):
            problems.append(f"{who} RSS grew {start['rss']} -> {end['rss']} KiB (+{RSS_TOLERANCE:.0%})")
        if end["zombies"]:
            problems.append(f"{who} has {end['zombies']} zombie children at the end")
    if len(sampler.router_pids) > 1:
        problems.append(f"the router was restarted: pids {sampler.router_pids}")
    if not settled:
        problems.append(f"workers did not go back to {QUIET_WORKERS} once quiet (idle-out stuck?)")

    classes = classify(stats, actions)
    ok, failed = stats.totals()
    print(f"\nrequests: {ok + failed} ({ok} ok, {failed} failed); per tenant ok: "
          + ", ".join(f"{t}={stats.ok.get(t, 0)}" for t in TENANTS))
    notes = {
        "steady": "never touched: must be 0",
        "expected": "tenant stopped, killed -9 or crashing by design (--crash-after) at the time",
        "graceful": f"only scale/restart/drain/reload on the tenant within {ACTION_WINDOW:.0f} s",
        "untouched": f"nothing done to the tenant within {ACTION_WINDOW:.0f} s",
    }
    for kind, failures in classes.items():
        reasons = {}
        for tenant, what in failures:
            key = re.sub(r"#\d+", "#N", re.sub(r"\d+ ?ms|\d+(\.\d+)?s\b", "T", what))
            reasons[key] = reasons.get(key, 0) + 1
        print(f"  failed, {kind:9} {len(failures):6}   ({notes[kind]})")
        for key, count in sorted(reasons.items(), key=lambda item: -item[1])[:6]:
            print(f"      {count:6}  {key}")
    print(f"steady: {stats.ok.get(STEADY, 0)} ok, slowest {stats.steady_latency_max * 1000:.0f} ms, "
          f"session counter resets {stats.steady_resets}")
    if classes["steady"]:
        problems.append(f"steady saw {len(classes['steady'])} failed requests")

    started, crashes, killed, idle, per_tenant, steady_stops = log_counts(args.log)
    print(f"workers started {started}, crashed {crashes} ({killed} by SIGKILL, {actions.kills} of them chaos kills; "
          f"{crashes - killed} exited with a failure by themselves), idled out {idle}")
    print("  per tenant (started/crashed/idled): "
          + ", ".join(f"{t}={'/'.join(map(str, c))}" for t, c in sorted(per_tenant.items())))
    if steady_stops:
        print(f"WARNING: steady's worker stopped {steady_stops} times, yet nothing in the soak touches it: "
              "another process on this host is signalling workers (see 'worker draining' lines with tenant=steady)")
    print("operator: " + "; ".join(
        f"{what}: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        for what, counts in sorted(actions.results.items())))
    print(f"  slowest clusterctl: {actions.slowest[0] * 1000:.0f} ms ({actions.slowest[1]})")
    unreachable = sum(c.get("unreachable", 0) + c.get("hung (30 s)", 0) for c in actions.results.values())
    if unreachable:
        problems.append(f"clusterctl could not reach clusterd {unreachable} times")

    print()
    if problems:
        for problem in problems:
            print(f"FAIL: {problem}")
        return 1
    print("PASS: fds, threads and RSS flat, no zombie, steady saw no failure")
    return 0


def run(args):
    began = time.monotonic()
    stats, actions = Stats(), Actions()
    operator = Operator(args, actions)
    sampler = Sampler(args.clusterd_pid, stats, began)
    steady_stop, sampler_stop = threading.Event(), threading.Event()
    steady = [threading.Thread(target=f, args=(args.router_port, stats, steady_stop))
              for f in (steady_session, steady_fresh)]
    for thread in steady:
        thread.start()
    print(f"warm-up {args.warmup} s, then {args.seconds} s of churn; a sample every {args.interval} s", flush=True)
    sampling = threading.Thread(target=sampler.run, args=(sampler_stop, args.interval))
    sampling.start()
    try:
        run_phase(args, stats, actions, operator, args.clusterd_pid, args.warmup)
        baseline, settled_before = quiesce(operator, sampler, args.clusterd_pid, "<- baseline (quiet)")
        run_phase(args, stats, actions, operator, args.clusterd_pid, args.seconds)
        final, settled = quiesce(operator, sampler, args.clusterd_pid, "<- final (quiet)")
    finally:
        sampler_stop.set()
        steady_stop.set()
        for thread in steady + [sampling]:
            thread.join()
    return report(args, sampler, stats, actions, baseline, final, settled and settled_before)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config")
    config.add_argument("--out", required=True)
    config.add_argument("--bin", required=True)
    config.add_argument("--work", required=True)
    config.add_argument("--ports", required=True)
    config.add_argument("--generations", default="")
    soak = commands.add_parser("run")
    soak.add_argument("--clusterd-pid", type=int, required=True)
    soak.add_argument("--router-port", type=int, required=True)
    soak.add_argument("--socket", required=True)
    soak.add_argument("--bin", required=True)
    soak.add_argument("--work", required=True)
    soak.add_argument("--ports", required=True)
    soak.add_argument("--config", required=True)
    soak.add_argument("--log", required=True)
    soak.add_argument("--seconds", type=int, required=True)
    soak.add_argument("--warmup", type=int, default=30)
    soak.add_argument("--interval", type=int, default=10)
    args = parser.parse_args()
    if args.command == "config":
        write_config(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

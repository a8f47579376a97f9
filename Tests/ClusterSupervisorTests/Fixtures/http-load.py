#!/usr/bin/env python3
"""HTTP load for the router tests, printed as one JSON object.

  herd URL HOST N                 N concurrent first requests; statuses and cold-start headers
  sessions URL HOST SESSIONS N    SESSIONS cookie-keeping clients doing N sequential GET /count each,
                                  all concurrently; per-session counts and which worker answered
"""
import json, sys, threading, http.client, urllib.parse
from collections import Counter


def request(url, host, path, cookies=None, timeout=30):
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    headers = {"Host": host}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    set_cookies = response.headers.get_all("Set-Cookie") or []
    connection.close()
    return response.status, dict(response.headers), body, set_cookies


def herd(url, host, n):
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        try:
            status, headers, body, _ = request(url, host, "/whoami")
            results[i] = (status, headers.get("x-clusterd-cold-start") or headers.get("X-Clusterd-Cold-Start"),
                          json.loads(body).get("worker") if status == 200 else body.decode(errors="replace"))
        except Exception as error:
            results[i] = ("error", None, str(error))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({
        "statuses": Counter(str(r[0]) for r in results),
        "workers": Counter(str(r[2]) for r in results if r[0] == 200),
        "cold_start_headers": sum(1 for r in results if r[1] is not None),
        "errors": [r[2] for r in results if r[0] != 200][:5],
    }))


def sessions(url, host, count, n):
    report = [None] * count

    def one(i):
        cookies, counts, workers, statuses = {}, [], [], []
        for _ in range(n):
            try:
                status, headers, body, set_cookies = request(url, host, "/count", cookies)
            except Exception as error:
                statuses.append("error"); continue
            statuses.append(status)
            for cookie in set_cookies:
                name, _, value = cookie.split(";")[0].partition("=")
                cookies[name.strip()] = value.strip()
            if status == 200:
                data = json.loads(body)
                counts.append(data["count"]); workers.append(data["worker"])
        report[i] = {"counts": counts, "workers": workers, "statuses": statuses}

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({
        "strictly_increasing": all(r["counts"] == list(range(1, n + 1)) for r in report),
        "sessions_on_one_worker": sum(1 for r in report if len(set(r["workers"])) == 1),
        "failures": sum(1 for r in report for s in r["statuses"] if s != 200),
        "requests_per_worker": Counter(w for r in report for w in r["workers"]),
        "bad_sessions": [r for r in report if r["counts"] != list(range(1, n + 1))][:3],
    }))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "herd":
        herd(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "sessions":
        sessions(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))

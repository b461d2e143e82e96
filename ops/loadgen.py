"""A small HTTP load generator, run as its own process so it does not share the server's interpreter.

``python -m ops.loadgen URL BODY_FILE --concurrency 8 --requests 2000 --seconds 20`` POSTs the body with
keep-alive connections from ``concurrency`` threads until ``requests`` were sent or ``seconds`` passed,
and prints one JSON line: count, errors, requests/s, latency percentiles (ms). Loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, nearest rank."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def run(
    url: str,
    body: bytes,
    concurrency: int,
    requests: int,
    seconds: float,
    content_type: str = "application/json",
) -> dict[str, float]:
    """Send the load and return its statistics."""
    parts = urlsplit(url)
    if parts.hostname not in ALLOWED_HOSTS:
        raise ValueError(f"load is only sent to this machine, not {parts.hostname}")
    path = parts.path or "/"
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors, sent
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while True:
            with lock:
                if sent >= requests or time.perf_counter() > deadline:
                    break
                sent += 1
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": content_type})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += 0 if ok else 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(wall, 3),
        "requests_per_second": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("body_file")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    with open(args.body_file, "rb") as fh:
        body = fh.read()
    print(json.dumps(run(args.url, body, args.concurrency, args.requests, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

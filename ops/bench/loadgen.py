"""A small HTTP load generator, run as its own process so it does not share the server's interpreter.

``python -m ops.bench.loadgen URL BODY_FILE --concurrency 8 --requests 2000 --seconds 20`` POSTs the body with
keep-alive connections from ``concurrency`` threads until ``requests`` were sent or ``seconds`` passed,
and prints one JSON line: count, errors, requests/s, latency percentiles (ms). Loopback only.

Closed loop by default: each connection sends its next request when the answer came, so a slow server
slows the load down and its queue never grows (a closed loop hides queueing). ``--rate R`` makes it an
open loop: request n is due at n / R seconds after the start (the connections take turns), sent then or,
when its connection is still busy, as soon as it is free; its latency counts from when it was due, so
time spent waiting behind earlier requests is in the percentiles. It also reports how late the generator
itself woke for the requests it slept for (``p99_wake_late_ms``): on a busy machine its threads wake late
too, and that lateness is in the percentiles though no server caused it.

The client is a minimal HTTP/1.1 one over a raw socket: the request bytes are built once, the response's
status line and ``Content-Length`` are parsed and the body read in full. ``http.client`` parses every
response's headers with the ``email`` package, which costs the load generator as much CPU as a small
request costs the server; on a 2-core machine that CPU is taken from the server being measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")


class HttpClient:
    """One keep-alive connection that POSTs the same request again and again."""

    def __init__(self, host: str, port: int, request: bytes, timeout: float = 30.0) -> None:
        self.address, self.request, self.timeout = (host, port), request, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def post(self) -> int:
        """Send the request and read the whole response; return its status (the connection is reused)."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buffer:
            self._recv()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = dict(line.split(b":", 1) for line in lines[1:])
        fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
        if b"content-length" not in fields:
            raise ConnectionError("response without Content-Length")
        length = int(fields[b"content-length"])
        while len(self.buffer) < length:
            self._recv()
        self.buffer = self.buffer[length:]
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status

    def _recv(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, nearest rank."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def build_request(host: str, port: int, path: str, body: bytes, content_type: str) -> bytes:
    """The bytes of one keep-alive POST."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def run(
    url: str,
    body: bytes,
    concurrency: int,
    requests: int,
    seconds: float,
    content_type: str = "application/json",
    rate: float = 0.0,
) -> dict[str, float]:
    """Send the load and return its statistics; ``rate`` > 0: open loop at that many requests/s."""
    parts = urlsplit(url)
    if parts.hostname not in ALLOWED_HOSTS or parts.port is None:
        raise ValueError(f"load is only sent to a port on this machine, not {parts.netloc}")
    host, port = parts.hostname, parts.port
    request = build_request(host, port, parts.path or "/", body, content_type)
    lock = threading.Lock()
    latencies: list[float] = []
    wake_late: list[float] = []  # open loop: how long after its due time a sleeping thread woke
    errors = 0
    sent = 0
    begin = time.perf_counter()
    deadline = begin + seconds

    def worker(index: int) -> None:
        nonlocal errors, sent
        client = HttpClient(host, port, request)
        mine: list[float] = []
        late: list[float] = []
        failed = 0
        for n in itertools.count(index, concurrency):  # this connection's turns in the schedule
            due = begin + n / rate if rate else 0.0
            if rate and due > time.perf_counter():
                time.sleep(max(0.0, due - time.perf_counter()))
                late.append(time.perf_counter() - due)
            with lock:
                if sent >= requests or time.perf_counter() > deadline:
                    break
                sent += 1
            started = due if rate else time.perf_counter()
            try:
                ok = client.post() == 200
            except (OSError, ValueError, IndexError):
                ok = False
                client.close()
            mine.append(time.perf_counter() - started)
            failed += 0 if ok else 1
        client.close()
        with lock:
            latencies.extend(mine)
            wake_late.extend(late)
            errors += failed

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - begin
    latencies.sort()
    stats = {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(wall, 3),
        "requests_per_second": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }
    if rate:
        stats["p99_wake_late_ms"] = round(percentile(sorted(wake_late), 99) * 1000, 2)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("body_file")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: requests/s (0: closed loop)")
    args = parser.parse_args(argv)
    with open(args.body_file, "rb") as fh:
        body = fh.read()
    print(json.dumps(run(args.url, body, args.concurrency, args.requests, args.seconds, rate=args.rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

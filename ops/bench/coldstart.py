"""The fresh process of the cold-start measurement: the Lambda handler behind the local API, nothing warm.

``python -m ops.bench.coldstart``, with the handler's environment set as the local stack sets it, imports
the handler (timed: its module initialisation, whatever it does at import; of the Lambda's modules only
the small wire contract, which the settings import too, is loaded before), serves it with the local API
on a free port, prints one JSON line ``{"port": N, "init_ms": T}`` (then its standard output goes nowhere)
and serves until its standard input closes. ``ops.bench.serving.cold_start`` sends the first and the warm
requests and times them.
"""

from __future__ import annotations

import json
import os
import sys
import time

from ops.local.api import LocalApi, deployed_handler  # imported before the clock: AWS's runtime is not ours


def main() -> int:
    started = time.perf_counter()
    handler = deployed_handler()
    init_ms = (time.perf_counter() - started) * 1000
    api = LocalApi(("127.0.0.1", 0), handler, [os.environ.get("ALLOWED_ORIGINS", "")])
    api.start()
    print(json.dumps({"port": api.server_address[1], "init_ms": round(init_ms, 1)}), flush=True)
    # The handler's log line a request (lambda/metrics.py, CloudWatch's in AWS) is still written, to nowhere:
    # the parent reads only the line above, and a pipe nobody drains stops the server once it is full.
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (this process's stdout until it ends)
    sys.stdin.read()
    api.shutdown()
    api.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

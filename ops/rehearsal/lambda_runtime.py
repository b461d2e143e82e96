"""The Lambda stand-in's process: a function's unpacked code behind the local API, in its environment.

``python -m ops.rehearsal.lambda_runtime CODE ORIGINS`` (ops/rehearsal/live.py starts it with the
function's environment): the handler imported from ``CODE`` with ``CODE`` as the working directory, as the
runtime runs a zip's root; ``ORIGINS`` the API's CORS origins (JSON). It prints its URL as the first line
of stdout and serves until its stdin closes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ops.local.api import LocalApi, deployed_handler


def main(code: Path, origins: list[str]) -> None:
    """Serve the handler of ``code`` on a free port of 127.0.0.1 until stdin closes."""
    os.chdir(code)
    api = LocalApi(("127.0.0.1", 0), deployed_handler(code), origins)
    api.start()
    print(api.url, flush=True)
    sys.stdin.read()
    api.shutdown()
    api.server_close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(sys.argv[2]))

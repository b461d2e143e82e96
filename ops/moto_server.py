"""Run ``moto_server`` (moto's AWS emulator) as a subprocess on 127.0.0.1, on a free port.

    with MotoServer() as moto:
        env = moto.aws_env("us-east-1")   # dummy credentials + AWS_ENDPOINT_URL for boto3 and Terraform

Its state lives in memory: everything created in it is gone when it stops.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any

from ml.config import LOCAL_ACCOUNT_ID

HOST = "127.0.0.1"


class MotoServerError(RuntimeError):
    """moto_server did not start; the message carries the end of its log."""


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """A moto_server subprocess, started by :meth:`start` (or ``with``) and stopped by :meth:`stop`.

    Args:
        account_id: the AWS account id moto reports (``MOTO_ACCOUNT_ID``).
        startup_timeout: seconds to wait for the server to answer.
        attempts: ports tried, in case another process takes the free port first.
    """

    def __init__(
        self, account_id: str = LOCAL_ACCOUNT_ID, startup_timeout: float = 30.0, attempts: int = 3
    ) -> None:
        self.account_id = account_id
        self.startup_timeout = startup_timeout
        self.attempts = attempts
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; closed in __exit__

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:50123``."""
        if self._proc is None:
            raise MotoServerError("moto_server is not running")
        return f"http://{HOST}:{self.port}"

    def client(self, service: str, region: str = "us-east-1") -> Any:
        """A boto3 client for ``service`` on this server, with the dummy credentials."""
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def aws_env(self, region: str) -> dict[str, str | None]:
        """Environment that sends boto3 and the Terraform AWS provider to this server with dummy credentials.

        A None value means "unset": a developer's profile or session token must not leak into the emulator.
        """
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    def start(self) -> MotoServer:
        """Start the server and wait until it answers; raise MotoServerError if it does not."""
        for _ in range(self.attempts):
            self.port = free_port()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "MOTO_ACCOUNT_ID": self.account_id},
            )
            if self._wait_ready():
                return self
            self.stop()
        raise MotoServerError(
            f"moto_server did not start on {HOST} after {self.attempts} tries:\n{self._log_tail()}"
        )

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/moto-api/", timeout=2):
                    return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        return False

    def _log_tail(self, limit: int = 2000) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:]

    def stop(self) -> None:
        """Stop the server (terminate, then kill after 10 s); a no-op when it is not running."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._log.close()


__all__ = ["HOST", "LOCAL_ACCOUNT_ID", "MotoServer", "MotoServerError", "free_port"]

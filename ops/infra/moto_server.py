"""Run moto's AWS emulator in a child process on 127.0.0.1, on a port the OS picks.

    with MotoServer() as moto:
        env = moto.aws_env("us-east-1")   # dummy credentials + AWS_ENDPOINT_URL for boto3 and Terraform

The child runs moto's own ``ThreadedMotoServer`` on port 0 and prints the port it bound, so no port is
chosen before it is taken (no free-port race). It is a child, not a thread of this process, because moto's
state and its account id are per process: two in-process servers share one set of backends, one
``MOTO_ACCOUNT_ID`` and one ``/moto-api/reset``, and the test session runs two emulators with different
accounts at once (docs/infra-local-target.md). Its state lives in memory: everything created in it is gone
when it stops.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import tempfile
from types import TracebackType
from typing import Any

from ml.config import LOCAL_ACCOUNT_ID, ROOT
from ml.errors import ProjectError

HOST = "127.0.0.1"


class MotoServerError(ProjectError):
    """moto_server did not start; the message carries the end of its log."""


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago: for a port where nothing listens (tests).

    Not used to start moto (the child binds port 0 itself).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """A moto server in a child process, started by :meth:`start` (or ``with``) and stopped by :meth:`stop`.

    Args:
        account_id: the AWS account id moto reports (``MOTO_ACCOUNT_ID``).
        startup_timeout: seconds to wait for the child to report its port.
    """

    def __init__(self, account_id: str = LOCAL_ACCOUNT_ID, startup_timeout: float = 120.0) -> None:
        self.account_id = account_id
        self.startup_timeout = startup_timeout
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
        """Start the child and read the port it listens on; raise MotoServerError if it reports none."""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "ops.infra.moto_server", HOST],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=ROOT,
            env={**os.environ, "MOTO_ACCOUNT_ID": self.account_id},
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self.startup_timeout)
        line = self._proc.stdout.readline().strip() if ready else b""
        if not line.isdigit():
            how = "exited" if ready and not line else f"did not answer within {self.startup_timeout:g} s"
            self.stop()
            raise MotoServerError(f"moto_server did not start on {HOST} ({how}):\n{self._log_tail()}")
        self.port = int(line)
        return self

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
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._log.close()


def serve(host: str) -> None:
    """The child: moto on ``host`` and a port the OS picks; print the port, serve until stdin closes.

    stdin is a pipe from the parent, so the child also ends when the parent dies without stopping it.
    The fixes of moto's IAM enforcement (ops/infra/moto_auth.py) go in after the bind, so a bind error is
    reported at once, and before the port is printed, so no request can come before them.
    """
    from moto.server import ThreadedMotoServer

    from ops.infra.moto_auth import fix_enforcement

    with socket.socket() as probe:  # ThreadedMotoServer.start waits forever when its thread cannot bind:
        probe.bind((host, 0))  # an address no interface has fails here, at once, with the OS's reason
    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    fix_enforcement()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    serve(sys.argv[1])


__all__ = ["HOST", "LOCAL_ACCOUNT_ID", "MotoServer", "MotoServerError", "free_port"]

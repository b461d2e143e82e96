"""ops/moto_server.py: a real moto_server subprocess on 127.0.0.1."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from ops import moto_server
from ops.moto_server import MotoServer, MotoServerError

pytestmark = pytest.mark.slow


def test_server_answers_on_loopback_as_the_local_account_and_its_port_closes_on_exit() -> None:
    # GIVEN a started server
    with MotoServer() as moto:
        url = urlsplit(moto.url)
        # WHEN boto3 talks to it with the server's environment's dummy credentials
        identity = moto.client("sts").get_caller_identity()
        moto.client("s3").create_bucket(Bucket="probe")
        # THEN it answers on 127.0.0.1 as the local target's account and keeps what it is given
        assert url.hostname == "127.0.0.1"
        assert identity["Account"] == "000000000000"
        assert [b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]] == ["probe"]
        assert moto.aws_env("us-east-1")["AWS_ENDPOINT_URL"] == moto.url
    # AND after the block nothing listens on its port
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", url.port or 0)) != 0


def test_a_server_that_cannot_bind_reports_why(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a port already taken by someone else, handed out as the "free" port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(moto_server, "free_port", lambda host="127.0.0.1": taken.getsockname()[1])
        # WHEN a server starts there  THEN it fails with moto's own complaint instead of hanging
        with pytest.raises(MotoServerError, match=r"did not start[\s\S]*(in use|Errno)"):
            MotoServer(attempts=1, startup_timeout=20).start()

"""ops/infra/moto_server.py: a real moto server in a child process on 127.0.0.1."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from ops.infra import moto_server
from ops.infra.moto_server import MotoServer, MotoServerError

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
    # GIVEN an address no interface of this machine has (TEST-NET-1)
    monkeypatch.setattr(moto_server, "HOST", "192.0.2.1")
    # WHEN a server starts there  THEN its child exits with the bind error, which the failure shows, instead
    # of hanging until the timeout (ThreadedMotoServer alone waits forever for a thread that cannot bind)
    with pytest.raises(MotoServerError, match=r"on 192\.0\.2\.1 \(exited\)[\s\S]*Cannot assign"):
        MotoServer(startup_timeout=60).start()


def test_the_port_is_the_one_the_server_bound() -> None:
    # GIVEN two servers started at once  THEN each reports the port it listens on, and they differ
    with MotoServer() as first, MotoServer() as second:
        assert first.port != second.port
        assert first.client("s3").list_buckets()["Buckets"] == []
        first.client("s3").create_bucket(Bucket="only-here")
        # AND each has its own state (a child process each: moto's state is per process)
        assert second.client("s3").list_buckets()["Buckets"] == []

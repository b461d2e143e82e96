"""The local endpoint follows the live version: a registry switch swaps the model in every worker process
without a restart, and no request fails while it does (docs/rollout.md)."""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path

import fasttext

from ml import deploy, package
from ml.fsutil import file_digest
from ml.pipeline import TrainOutcome
from ops.local.endpoint import MODEL_HEADER, EndpointServer
from ops.local.stack import start_stack
from ops.settings import Settings
from tests.helpers import make_settings

CLIENTS = 4
AFTER_SWAP = 25  # requests each client still sends once every process serves the new model


def _other_archive(settings: Settings, out: Path) -> Path:
    """A second real model (small and quick) on the trained run's prepared data, packed as a version."""
    prepared = sorted(settings.data_dir.glob("prepared/*/train.txt"))[0]
    model = fasttext.train_supervised(str(prepared), epoch=1, dim=5, bucket=10_000, thread=1, seed=3)
    model.save_model(str(out / "model.bin"))
    folder = out / "versions" / "other"
    folder.mkdir(parents=True)
    return package.pack(out / "model.bin", folder / package.ARCHIVE)


def _ping_sha(server: EndpointServer) -> str:
    """The model a fresh connection's process serves (the kernel spreads new connections over them)."""
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().getheader(MODEL_HEADER) or ""
    finally:
        connection.close()


def test_a_registry_switch_swaps_every_worker_without_a_failed_request(
    trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN the stack with two endpoint processes serving the live version from the registry
    base, outcome = trained
    settings = make_settings(tmp_path, endpoint_workers=2)
    deploy.register_local(settings, outcome.archive)
    new_archive = _other_archive(base, tmp_path)
    old_sha, new_sha = file_digest(outcome.archive), file_digest(new_archive)
    with start_stack(settings, ephemeral_ports=True) as stack:
        endpoint = stack.endpoint
        assert {_ping_sha(endpoint) for _ in range(20)} == {old_sha}  # `invoke up` serves the live one
        swapped = threading.Event()
        started = threading.Barrier(CLIENTS + 1)
        errors: list[str] = []
        counts = {"total": 0}
        lock = threading.Lock()
        body = json.dumps({"instances": ["walter johnson baseball pitcher"], "configuration": {"k": 2}})

        def client(number: int) -> None:
            connection: http.client.HTTPConnection | None = None
            after = sent = 0
            while after < AFTER_SWAP:
                done = swapped.is_set()
                if connection is None or number % 2:  # half keep one connection, half open one each time
                    connection = http.client.HTTPConnection(*endpoint.server_address[:2], timeout=10)
                try:
                    path = f"/endpoints/{settings.endpoint_name}/invocations"
                    connection.request("POST", path, body, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    answer = response.read()
                    if response.status != 200 or len(json.loads(answer)[0]["label"]) != 2:
                        errors.append(f"{response.status} {answer[:200]!r}")
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    errors.append(repr(exc))
                    connection = None
                sent += 1
                with lock:
                    counts["total"] += 1
                if sent == 1:
                    started.wait()
                after += done

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        started.wait()  # every client has had an answer from the old model
        # WHEN the registry names another version (what `invoke rollback` / a deploy writes)
        before = counts["total"]
        deploy.register_local(settings, new_archive)
        assert stack.reload()  # what the stack's registry follower calls when the file changes
        during = counts["total"] - before
        assert {_ping_sha(endpoint) for _ in range(20)} == {new_sha}
        swapped.set()
        for thread in threads:
            thread.join(60)
        # THEN every request got its answer while the model changed underneath, from every process
        assert errors == []
        assert during > 0, "no request was answered while the model was being swapped"
        assert counts["total"] >= CLIENTS * (AFTER_SWAP + 1)
        assert len(endpoint.worker_pids) == 1
        # AND the follower switches back on its own when the registry changes again
        deploy.register_local(settings, outcome.archive)
        follower_saw = _wait_for(endpoint, old_sha)
        assert follower_saw and not stack.reload()


def _wait_for(endpoint: EndpointServer, sha: str) -> bool:
    """True once 20 fresh connections all see ``sha`` (the follower polls the registry each second)."""
    stop = threading.Event()
    for _ in range(300):
        if {_ping_sha(endpoint) for _ in range(20)} == {sha}:
            return True
        stop.wait(0.2)
    return False

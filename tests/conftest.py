"""Fixtures shared by every test folder: the real shared data and a model trained on the shipped sample."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml.pipeline import TrainOutcome, run
from ml.predict import Predictor
from ml.versions import versions_dir
from ops.local.endpoint import EndpointServer, start_endpoint
from ops.local.stack import LocalStack, start_stack
from ops.settings import Settings
from tests.helpers import SHARED_DATA, TEST_ROWS, in_ci, make_settings, own_data_settings

os.environ.update({k: os.environ.get(k, v) for k, v in TEST_ROWS.items()})  # see TEST_ROWS


# Session fixtures costly enough that the modules using them share one xdist worker (and one instance).
ONE_WORKER = (
    "reviewed",  # tests/infra/conftest.py: `invoke plan` of the real stack
    "applied",  # tests/infra/conftest.py: the real stack applied to moto, read back, then destroyed
)
# The groups that take minutes, longest first: a worker starts them before the short ones, so no worker
# is left alone with a long group at the end (the test task turns off xdist's own order, by test count).
LONGEST_FIRST = (  # the ten longest groups of a measured run (./dev test prints --durations)
    "tests/model/test_versions.py",
    "tests/rehearsal/test_rehearse.py",
    "reviewed",
    "applied",
    "tests/model/test_training.py",
    "tests/infra/test_terraform_tests.py",
    "tests/bench/test_bench_smoke.py",
    "tests/cli/test_cli.py",
    "tests/aws/test_train_on_moto.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests for ``--dist loadgroup``: a module's tests on one worker, as ``loadscope`` does, and
    the modules that use a fixture of ``ONE_WORKER`` together; the groups of ``LONGEST_FIRST`` go first."""
    groups: dict[str, str] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        shared = next((f for f in ONE_WORKER if f in getattr(item, "fixturenames", ())), None)
        groups.setdefault(module, shared or module)
        if shared:
            groups[module] = shared
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid.split("::")[0]]))
    rank = {group: position for position, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(groups[item.nodeid.split("::")[0]], len(rank)))  # stable


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real DBPedia rows beside the repo; skipped where absent, an error in CI."""
    if not (SHARED_DATA / "train.csv").exists():
        if in_ci():
            pytest.fail(f"CI=true but the shared DBPedia rows are missing at {SHARED_DATA}")
        pytest.skip(f"the shared DBPedia rows are not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[Settings, TrainOutcome]:
    """A real model trained by the pipeline on 1,000 rows a class of the shipped data (default settings).

    It is trained once a run: under xdist the first worker trains it in a folder the workers share (the
    others wait on a lock), then each worker copies its prepared data and version and runs the pipeline in
    its own folder, which reuses that version as a second `invoke train` would.
    """
    settings = make_settings(tmp_path_factory.mktemp("trained"))
    if worker_id == "master":
        return settings, run(settings)
    shared = make_settings(tmp_path_factory.getbasetemp().parent / "trained")
    with (tmp_path_factory.getbasetemp().parent / "trained.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run(shared)  # trains the first time, reuses afterwards
        shutil.copytree(shared.data_dir, settings.data_dir)  # under the lock: no run writes there meanwhile
        shutil.copytree(versions_dir(shared), versions_dir(settings))
    return settings, run(settings)


@pytest.fixture(scope="module")
def endpoint(trained: tuple[Settings, TrainOutcome]) -> Iterator[EndpointServer]:
    """The trained model behind a real local endpoint server on a free port."""
    settings, outcome = trained
    predictor = Predictor.from_archive(outcome.archive, settings.build_dir / "cache")
    server = start_endpoint(predictor, "dbpedia-classifier")
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A model trained on a user's own three labels (tests/helpers.py OWN_TOPICS), served by the local stack
    for one module (a running stack holds the Lambda's metrics logger: no longer than its module)."""
    settings = own_data_settings(tmp_path_factory.mktemp("own"))
    run(settings)
    with start_stack(settings, ephemeral_ports=True) as running:
        yield running

"""The settings of bulk classification against the test endpoint (tests/local/test_classify*.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.deploy import register_local
from ml.pipeline import TrainOutcome
from ops.local.endpoint import EndpointServer
from ops.settings import Settings
from tests.helpers import make_settings


@pytest.fixture
def settings(trained: tuple[Settings, TrainOutcome], tmp_path: Path, endpoint: EndpointServer) -> Settings:
    """Settings that find the running test endpoint (as `invoke classify` finds the one `invoke up` runs).

    The model it serves is deployed in the settings' build dir, as `invoke up` serves the deployed one.
    """
    settings = make_settings(tmp_path, endpoint_port=endpoint.server_address[1], classify_batch_size=7)
    register_local(settings, trained[1].archive)
    return settings

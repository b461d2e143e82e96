"""The environment Terraform gives the function, shared by the handler's test modules."""

from __future__ import annotations

import pytest

from ml import vocabulary
from ml.pipeline import TrainOutcome
from ops.local.endpoint import EndpointServer
from ops.settings import Settings
from tests.helpers import lambda_settings_env

NAME = "dbpedia-classifier"
SITE = "http://dbpedia-site.s3-website-us-east-1.amazonaws.com"


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch, endpoint: EndpointServer, trained: tuple[Settings, TrainOutcome]
) -> str:
    """The environment Terraform gives the function, pointed at the local endpoint and its model's words."""
    for name, value in {**lambda_settings_env(), **vocabulary.lambda_environment(trained[1].archive)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ENDPOINT_NAME", NAME)
    monkeypatch.setenv("ALLOWED_ORIGINS", f"{SITE},http://127.0.0.1:8000")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", endpoint.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("ENDPOINT_TIMEOUT_SECONDS", "1")
    return endpoint.url

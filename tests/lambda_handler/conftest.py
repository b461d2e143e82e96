"""The environment Terraform gives the function, and the calls through the real handler, shared by the
handler's test modules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ml.pipeline import TrainOutcome
from ops.local.endpoint import EndpointServer
from ops.settings import Settings
from tests.helpers import lambda_environment_of, lambda_settings_env, load_event

import handler

NAME = "dbpedia-classifier"
SITE = "http://dbpedia-site.s3-website-us-east-1.amazonaws.com"


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch, endpoint: EndpointServer, trained: tuple[Settings, TrainOutcome]
) -> str:
    """The environment Terraform gives the function, pointed at the local endpoint and its model's words."""
    for name, value in {**lambda_settings_env(), **lambda_environment_of(trained[1].archive)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ENDPOINT_NAME", NAME)
    monkeypatch.setenv("ALLOWED_ORIGINS", f"{SITE},http://127.0.0.1:8000")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", endpoint.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("ENDPOINT_TIMEOUT_SECONDS", "1")
    return endpoint.url


def call(event: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The real handler's status, headers and JSON body for ``event``."""
    reply = handler.lambda_handler(event, None)
    return reply["statusCode"], reply["headers"], json.loads(reply["body"])


def v2(body: str | None, content_type: str = "application/json", **extra: Any) -> dict[str, Any]:
    """API Gateway's HTTP API (payload 2.0) event of POST /classify with ``body`` (None: no body)."""
    event = load_event("apiGatewayV2Event.json")
    event["headers"]["content-type"] = content_type
    if body is None:
        event.pop("body")
    else:
        event["body"] = body
    event.update(extra)
    return event

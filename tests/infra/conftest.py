"""Fixtures for the infrastructure tests: terraform itself, a moto_server, and temp copies of terraform/.

Tests that need the terraform binary (or checkov) skip with the reason where it is missing, and fail
instead under CI=true, where a skip would hide that nothing was tested.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ml import vocabulary
from ml.config import ROOT
from ml.deploy import EndpointCapacity, EndpointOutputs
from ml.lambda_src import contract, text_tokenizer
from ml.package import MANIFEST
from ml.versions import version_folder
from ops.infra.lambda_zip import build_lambda_zip
from ops.infra.local_workdir import prepare_local_workdir
from ops.infra.moto_gaps import AppAutoScalingTagProxy, CloudFrontGapProxy
from ops.infra.moto_server import LOCAL_ACCOUNT_ID, MotoServer
from ops.infra.stack import Stack
from ops.infra.terraform import ApplyResult, TerraformRunner, terraform_binary, write_cli_config
from ops.settings import Settings, load_settings

REGION = "us-east-1"
ENDPOINT = EndpointOutputs(
    aws_region=REGION,
    endpoint_arn=f"arn:aws:sagemaker:{REGION}:{LOCAL_ACCOUNT_ID}:endpoint/dbpedia-classifier",
    endpoint_name="dbpedia-classifier",
    sagemaker_runtime_url="http://127.0.0.1:8080",
    endpoint_capacity=EndpointCapacity("instance", instance_type="ml.t2.medium", instance_count=1),
    model_sha256="5e" * 32,
)
EXTRA_ORIGIN = "http://localhost:8000"
AUTOSCALING = {
    "max_instances": 3,
    "target_invocations_per_instance": 450,
    "scale_in_cooldown_seconds": 600,
    "scale_out_cooldown_seconds": 30,
}
ALARM_EMAIL = "ops@example.org"
# What `invoke infra` passes: the declared settings and the deployed model's class count; and its page.
LAMBDA_SETTINGS = {**load_settings().lambda_settings(), "n_labels": 14}
SITE_PAGE = {"labels": [{"label": "Company", "name": "Company", "description": "businesses"}], "examples": []}
# What `invoke infra` passes from the deployed version's manifest (ml/drift.py, ml/model_card.py).
DRIFT_BAND: dict[str, Any] = {
    "labels": {
        "Athlete": {"low": 0.02, "high": 0.15, "low_answers": 400},
        "Film": {"low": 0.03, "high": 0.14, "low_answers": 300},
    },
    "min_day_answers": 100,
    "unknown_text": {"low": 0.0, "high": 0.12},
}
MODEL_CARD = "<!doctype html>\n<h1>About this model (version 5e5e5e5e5e5e5e5e)</h1>\n<p>English only.</p>\n"
# One file per content type the stack maps, plus files that must not be uploaded as they are.
SITE_FILES = {
    "index.html": "<!doctype html><title>DBPedia classifier</title>",
    "app.js": "fetch(`${window.CLASSIFIER_CONFIG.apiUrl}/classify`);",
    "style.css": "body { margin: 0; }",
    "logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
    "classes.json": '["Company", "Artist"]',
    "img/icon.png": "not really a png",
    "favicon.ico": "not really an icon",
    "config.js": "// a stale local render that must not be uploaded",
}


def in_ci() -> bool:
    """True under CI, where a missing tool is a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def require(tool: str, found: bool, how: str) -> None:
    """Skip (or, in CI, fail) when ``tool`` is missing."""
    if found:
        return
    if in_ci():
        pytest.fail(f"CI=true but {tool} is missing: {how}")
    pytest.skip(f"{tool} is not installed here: {how}")


@pytest.fixture(scope="session")
def terraform() -> str:
    """Path of the terraform binary (skip or fail when absent)."""
    path = terraform_binary()
    require(
        "terraform",
        path is not None,
        "install Terraform 1.11+ with the AWS provider mirror in /opt/tf-plugins",
    )
    assert path is not None
    return path


# moto_server URL -> the URL of the tag proxy in front of it (ops/infra/moto_gaps.py), for local_stack.
TAG_PROXIES: dict[str, str] = {}
# moto_server URL -> the URL of the CloudFront gap proxy in front of it (ops/infra/moto_gaps.py).
CLOUDFRONT_PROXIES: dict[str, str] = {}


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """One moto_server for the whole session (with the Application Auto Scaling tag proxy and the CloudFront
    gap proxy in front of it); tests use distinct resource names."""
    with (
        MotoServer() as server,
        AppAutoScalingTagProxy(server.url) as proxy,
        CloudFrontGapProxy(server.url) as cloudfront,
    ):
        TAG_PROXIES[server.url] = proxy.url
        CLOUDFRONT_PROXIES[server.url] = cloudfront.url
        yield server


def write_endpoint_tfvars(workdir: Path, endpoint: EndpointOutputs = ENDPOINT) -> Path:
    """What `invoke train` writes: terraform/endpoint.auto.tfvars.json with the contract's keys."""
    path = workdir / "endpoint.auto.tfvars.json"
    path.write_text(json.dumps(endpoint.as_tfvars()), encoding="utf-8")
    return path


def write_model_vocabulary(settings: Settings, endpoint: EndpointOutputs = ENDPOINT) -> Path:
    """What `invoke train` leaves beside the model the tfvars name: its vocabulary (a few words here) and its
    manifest (DBPedia's 14 labels)."""
    path = version_folder(settings, endpoint.model_sha256) / vocabulary.VOCABULARY
    path.parent.mkdir(parents=True, exist_ok=True)
    scheme = text_tokenizer().SCHEME
    words = contract.Vocabulary(frozenset({"river", "film"}), frozenset({"the", "is"}))
    path.write_bytes(vocabulary.encode(words, endpoint.model_sha256, scheme))
    labels = [f"__label__C{n}" for n in range(14)]
    manifest = {"model": {"sha256": endpoint.model_sha256}, "labels": labels, "created": "2026-12-07"}
    (path.parent / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return path


def make_site(folder: Path) -> Path:
    """A site folder with the real config.js template and one file of each mapped type."""
    for name, text in SITE_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "site" / "config.js.tftpl", folder / "config.js.tftpl")
    return folder


def make_lambda_zip(folder: Path) -> Path:
    """A deterministic zip of a throwaway handler (the stack never runs it: moto cannot execute Lambdas)."""
    source = folder / "src"
    source.mkdir()
    (source / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    return build_lambda_zip(folder / "lambda.zip", source_dir=source)


def zip_sha256_b64(path: Path) -> str:
    """The Lambda API's CodeSha256 of a zip."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@dataclass
class Applied:
    """The stack applied once to moto for the read-back tests of a module."""

    stack: Stack
    result: ApplyResult
    site_dir: Path
    zip_path: Path
    moto: MotoServer

    def client(self, service: str) -> Any:
        """A boto3 client on the moto server the stack lives in."""
        return self.moto.client(service)

    def api(self) -> dict[str, Any]:
        """The stack's HTTP API, as API Gateway describes it."""
        [api] = [
            a for a in self.client("apigatewayv2").get_apis()["Items"] if a["Name"] == "dbpedia-classifier"
        ]
        return api


def local_stack(moto: MotoServer, tmp: Path, **variables: Any) -> tuple[Stack, Path, Path]:
    """An initialised Stack in a temp copy of terraform/ pointed at ``moto``, with its own state."""
    site_dir = make_site(tmp / "site")
    zip_path = make_lambda_zip(tmp)
    workdir = prepare_local_workdir(
        ROOT / "terraform",
        tmp / "terraform",
        moto.url,
        {"appautoscaling": TAG_PROXIES[moto.url], "cloudfront": CLOUDFRONT_PROXIES[moto.url]},
    )
    write_endpoint_tfvars(workdir)
    runner = TerraformRunner(
        workdir,
        write_cli_config(tmp / "terraform.rc"),
        env=moto.aws_env(REGION),
        variables={
            "lambda_zip_path": str(zip_path),
            "site_dir": str(site_dir),
            "lambda_settings": LAMBDA_SETTINGS,
            "site_page": json.dumps(SITE_PAGE),
            **variables,
        },
    )
    runner.init()
    return Stack("local", runner, ENDPOINT), site_dir, zip_path


@pytest.fixture(scope="session")
def applied(terraform: str, moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    """The real stack, applied once to moto (about 20 s) and shared by test_stack_on_moto.py and
    test_stack_on_moto_then_destroyed.py (one worker: tests/conftest.py ONE_WORKER), which destroys it.

    Whatever they leave of it is destroyed afterwards: the session's moto is shared.
    """
    stack, site_dir, zip_path = local_stack(
        moto,
        tmp_path_factory.mktemp("stack"),
        force_destroy=True,
        cors={"extra_origins": [EXTRA_ORIGIN]},
        autoscaling=AUTOSCALING,
        alarm_email=ALARM_EMAIL,
        drift_band=DRIFT_BAND,
        model_card=MODEL_CARD,
    )
    yield Applied(stack, stack.runner.apply(), site_dir, zip_path, moto)
    if stack.runner.state_list():
        stack.runner.destroy()


def hcl_blocks(text: str, kind: str) -> list[tuple[str, str]]:
    """``(name, body)`` of each top-level ``kind "name" {`` block of a formatted .tf file, in file order."""
    blocks = re.findall(rf'^{kind} "([^"]+)" {{\n(.*?)^}}', text, flags=re.MULTILINE | re.DOTALL)
    return [(name, body) for name, body in blocks]


@dataclass
class Reviewed:
    """``invoke plan --target local`` of the real terraform/ and site/, run once for the session."""

    settings: Any
    report: Any  # ops.infra.plan.PlanReport


@pytest.fixture(scope="session")
def reviewed(terraform: str, tmp_path_factory: pytest.TempPathFactory) -> Reviewed:
    """The plan task's function on a copy of terraform/ with train's tfvars (its own moto_server)."""
    from ops.infra.plan import plan
    from ops.infra.stack import emulated_stack

    tmp = tmp_path_factory.mktemp("reviewed")
    terraform_dir = tmp / "terraform"
    terraform_dir.mkdir()
    for path in [*(ROOT / "terraform").glob("*.tf"), *(ROOT / "terraform").glob("*.json")]:
        shutil.copy(path, terraform_dir / path.name)
    write_endpoint_tfvars(terraform_dir)
    settings = load_settings(build_dir=tmp / "build", terraform_dir=terraform_dir, target="local")
    write_model_vocabulary(settings)
    return Reviewed(settings, plan(settings, emulated_stack, echo=lambda _: None))

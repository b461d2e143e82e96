"""ops/infra/inputs.py: the endpoint's tfvars from `invoke train`, checked, and the settings' stand-in for a
destroy."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ml.fsutil import file_digest
from ml.lambda_src import contract, text_tokenizer
from ml.package import MANIFEST
from ml.versions import version_folder
from ml.vocabulary import VOCABULARY, encode
from ops.infra.errors import InfraError
from ops.infra.inputs import (
    fallback_endpoint_vars,
    read_endpoint_vars,
    refuse_local_endpoint,
    relative_paths,
    stack_variables,
)
from ops.infra.model_inputs import model_variables
from ops.settings import load_settings
from tests.helpers import make_settings

from .conftest import ENDPOINT, write_endpoint_tfvars


def test_missing_endpoint_tfvars_tell_you_to_train_first(tmp_path: Path) -> None:
    # GIVEN no endpoint.auto.tfvars.json  WHEN it is read  THEN the error names the next step
    with pytest.raises(InfraError, match=r"is missing: run `invoke train` first"):
        read_endpoint_vars(tmp_path / "endpoint.auto.tfvars.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not valid JSON"), (json.dumps({"endpoint_name": "x"}), "lacks aws_region, endpoint_arn")],
)
def test_broken_endpoint_tfvars_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    # GIVEN a tfvars file that is not JSON, or lacks keys
    path = tmp_path / "endpoint.auto.tfvars.json"
    path.write_text(text)
    # WHEN / THEN reading it says what is wrong and to train again
    with pytest.raises(InfraError, match=rf"{message}.*run `invoke train` again"):
        read_endpoint_vars(path)


def test_endpoint_tfvars_round_trip_the_train_contract(tmp_path: Path) -> None:
    # GIVEN the file `invoke train` writes  WHEN it is read  THEN the four contract keys come back
    assert read_endpoint_vars(write_endpoint_tfvars(tmp_path)) == ENDPOINT


def test_the_aws_target_refuses_the_local_endpoint() -> None:
    # GIVEN the local endpoint's variables and the real AWS one's
    aws = replace(
        ENDPOINT,
        endpoint_arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/dbpedia-classifier",
        sagemaker_runtime_url="https://runtime.sagemaker.us-east-1.amazonaws.com",
    )
    # WHEN / THEN the aws stack refuses the local one and accepts the real one
    with pytest.raises(InfraError, match="invoke train --target aws"):
        refuse_local_endpoint(ENDPOINT)
    refuse_local_endpoint(aws)


def test_fallback_variables_for_destroy_point_at_the_settings_region() -> None:
    # GIVEN the default settings  WHEN destroy needs variables without a tfvars file
    endpoint = fallback_endpoint_vars(load_settings(region="eu-west-1"))
    # THEN they name the region the provider must look in, in the shapes variables.tf accepts
    assert endpoint.aws_region == "eu-west-1"
    assert endpoint.endpoint_arn == "arn:aws:sagemaker:eu-west-1:000000000000:endpoint/dbpedia-classifier"
    assert endpoint.sagemaker_runtime_url == "https://runtime.sagemaker.eu-west-1.amazonaws.com"


def test_the_zip_and_site_reach_terraform_by_the_same_relative_paths_in_every_checkout(
    tmp_path: Path,
) -> None:
    # GIVEN the same repository checked out at two paths (a CI runner's, a laptop's)
    variables = [
        {"lambda_zip_path": str(root / "build" / "lambda.zip"), "site_dir": str(root / "site"), "other": 1}
        for root in (tmp_path / "runner" / "repo", tmp_path / "home" / "me" / "code" / "repo")
    ]
    # WHEN each is made relative to its terraform/ folder, where Terraform runs
    located = [relative_paths(v, Path(v["site_dir"]).parent / "terraform") for v in variables]
    # THEN both say the same thing (the state holds no checkout's path), and the rest is untouched
    assert (
        located[0]
        == located[1]
        == {"lambda_zip_path": "../build/lambda.zip", "site_dir": "../site", "other": 1}
    )


def test_the_stack_gets_the_deployed_versions_class_count_and_page(tmp_path: Path) -> None:
    # GIVEN a deployed version's folder: its archive, vocabulary, manifest (3 labels) and page.json
    settings = make_settings(tmp_path)
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"a model")
    sha = file_digest(archive)
    folder = version_folder(settings, sha)
    folder.mkdir(parents=True)
    words = contract.Vocabulary(frozenset({"galaxy"}), frozenset({"the"}))
    (folder / VOCABULARY).write_bytes(encode(words, sha, text_tokenizer().SCHEME))
    (folder / "manifest.json").write_text(json.dumps({"labels": ["a", "b%20c", "d"]}), encoding="utf-8")
    shown = {"labels": [{"label": "b c", "name": "B C", "description": "x"}], "examples": []}
    (folder / "page.json").write_text(json.dumps(shown), encoding="utf-8")
    # WHEN `invoke infra` builds the variables for the endpoint that serves it
    variables = stack_variables(settings, replace(ENDPOINT, model_sha256=sha))
    # THEN the Lambda gets the model's class count with the settings, and the page its labels
    assert variables["lambda_settings"] == {**settings.lambda_settings(), "n_labels": 3}
    assert json.loads(variables["site_page"]) == shown


def test_the_deployed_version_s_manifest_gives_the_stack_its_card_and_band(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the deployed version's folder with a manifest that records a band
    settings = load_settings(build_dir=tmp_path / "build")
    folder = version_folder(settings, ENDPOINT.model_sha256)
    folder.mkdir(parents=True)
    band = {
        "labels": {"Film": {"low": 0.01, "high": 0.2}},
        "min_day_answers": 100,
        "unknown_text": {"low": 0.0, "high": 0.1},
        "measured": {"text": {"n": 10, "unknown_text": 0.0, "label_shares": {"Film": 1.0}}},
        "z": 3.0,
    }
    manifest = {"created": "2026-12-07", "labels": ["Film"], "data": {"origin": "sample"}, "drift_band": band}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    # WHEN the stack's variables are made from it
    variables = model_variables(settings, ENDPOINT)
    # THEN Terraform gets the card (DBPedia's licence named) and the band in the shape variables.tf types
    assert f"<h1>About this model (version {folder.name})</h1>" in variables["model_card"]
    assert "CC BY-SA 3.0" in variables["model_card"]
    assert variables["drift_band"] == {k: band[k] for k in ("labels", "min_day_answers", "unknown_text")}
    # AND a version made before bands were recorded gives its card, no band, and says so
    del manifest["drift_band"]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert set(model_variables(settings, ENDPOINT)) == {"model_card"}
    assert "records no live metrics' band" in caplog.text

"""ops/infra/stack.py without a full apply: inputs, the local working copy, plan summaries, confirmation, and
the SageMaker endpoint clean-up against moto."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ml.aws.resources import EndpointResources, delete_endpoint_resources, find_endpoint_resources
from ml.config import load_settings
from ml.deploy import EndpointCapacity
from ops.infra import stack as infra
from ops.infra.moto_server import MotoServer
from ops.infra.stack import (
    InfraError,
    check_target,
    local_override,
    prepare_local_workdir,
    read_endpoint_vars,
    render_plan_markdown,
    summarize_plan,
)
from tests.helpers import table_rows

from .conftest import ENDPOINT, write_endpoint_tfvars


def _change(address: str, actions: list[str], mode: str = "managed") -> dict[str, Any]:
    kind = address.removeprefix("data.").split(".")[0]
    return {"address": address, "mode": mode, "type": kind, "change": {"actions": actions}}


PLAN_JSON = {
    "resource_changes": [
        _change('aws_s3_object.site_file["app.js"]', ["create"]),
        _change("aws_s3_object.config_js", ["update"]),
        _change("aws_lambda_function.classifier", ["delete", "create"]),
        _change("aws_iam_role.lambda", ["create"]),
        _change('aws_s3_object.site_file["old.js"]', ["delete"]),
        _change("aws_s3_bucket.site", ["no-op"]),
        _change("aws_cloudwatch_log_group.old", ["forget"]),
        _change("data.aws_iam_policy_document.lambda", ["read"], mode="data"),
    ]
}


# --- inputs ------------------------------------------------------------------------------------


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
    # WHEN / THEN the aws target refuses the local one, accepts the real one; local takes either
    with pytest.raises(InfraError, match="invoke train --target aws"):
        check_target(ENDPOINT, "aws")
    check_target(aws, "aws")
    check_target(aws, "local")


# --- the local target's working copy -----------------------------------------------------------


def test_local_workdir_is_a_fresh_copy_pointed_at_the_emulator(tmp_path: Path) -> None:
    # GIVEN a root module with config, tfvars and a README, and a working copy left by an earlier run
    source = tmp_path / "terraform"
    source.mkdir()
    for name in ("main.tf", "endpoint.auto.tfvars.json", "dev.tfvars", "README.md"):
        (source / name).write_text("# " + name)
    (source / "main.tf").write_text('provider "aws" {\n  alias  = "us_east_1"\n  region = "us-east-1"\n}\n')
    dest = tmp_path / "build" / "terraform-local"
    dest.mkdir(parents=True)
    (dest / "terraform.tfstate").write_text("{}")
    # WHEN the working copy is prepared
    prepare_local_workdir(source, dest, "http://127.0.0.1:4321")
    # THEN it holds the config and variables, no stale state, and an override sending the provider to moto
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        ["main.tf", "endpoint.auto.tfvars.json", "dev.tfvars", infra.LOCAL_OVERRIDE]
    )
    override = (dest / infra.LOCAL_OVERRIDE).read_text()
    assert override == local_override("http://127.0.0.1:4321")
    for service in (
        "apigatewayv2",
        "appautoscaling",
        "cloudwatch",
        "cloudwatchlogs",
        "iam",
        "lambda",
        "s3",
        "sns",
    ):
        assert f'{service:<14} = "http://127.0.0.1:4321"' in override
    assert 'backend "local" {}' in override and "s3_use_path_style       = true" in override


def test_the_local_working_copy_of_a_module_with_the_edge_does_not_wait_for_its_deployment(
    tmp_path: Path,
) -> None:
    # GIVEN a root module that declares the edge distribution
    source = tmp_path / "terraform"
    source.mkdir()
    (source / "edge.tf").write_text(f"{infra.EDGE_RESOURCE} {{\n}}\n")
    # WHEN its working copy for the emulator is prepared
    dest = prepare_local_workdir(source, tmp_path / "local", "http://127.0.0.1:4321")
    # THEN the override keeps the emulator's provider settings and tells the distribution not to wait
    override = (dest / infra.LOCAL_OVERRIDE).read_text()
    assert override.startswith(local_override("http://127.0.0.1:4321", aliases=(None,)))
    assert override.endswith(f"{infra.EDGE_RESOURCE} {{\n  wait_for_deployment = false\n}}\n")


def test_the_override_of_a_module_without_provider_aliases_configures_only_the_default_provider(
    tmp_path: Path,
) -> None:
    # GIVEN a root module with one provider configuration (as terraform/ci-role and terraform/bootstrap)
    source = tmp_path / "ci-role"
    source.mkdir()
    (source / "versions.tf").write_text('provider "aws" {\n  region = var.aws_region\n}\n')
    # WHEN its working copy for the emulator is prepared
    override = (
        prepare_local_workdir(source, tmp_path / "w", "http://127.0.0.1:4321") / infra.LOCAL_OVERRIDE
    ).read_text()
    # THEN it overrides that one provider only: an override of an undeclared alias fails `terraform init`
    assert override.count('provider "aws" {') == 1 and "alias" not in override


def test_the_local_override_can_send_one_service_elsewhere() -> None:
    # GIVEN moto for every service but Application Auto Scaling, which goes to the tag proxy
    override = local_override("http://127.0.0.1:4321", {"appautoscaling": "http://127.0.0.1:4322"})
    # THEN that one service has its own URL, the others keep moto's
    assert 'appautoscaling = "http://127.0.0.1:4322"' in override
    assert 'cloudwatch     = "http://127.0.0.1:4321"' in override


def test_destroy_for_the_local_target_only_clears_the_working_copy(tmp_path: Path) -> None:
    # GIVEN a working copy left by a local `invoke infra`
    settings = load_settings(build_dir=tmp_path / "build", terraform_dir=tmp_path / "tf", target="local")
    (settings.build_dir / "terraform-local").mkdir(parents=True)
    messages: list[str] = []
    # WHEN a dry run, then a real destroy, run (no tfvars, no moto: neither is needed)
    dry = infra.destroy(settings, dry_run=True, echo=messages.append)
    assert (settings.build_dir / "terraform-local").exists()
    real = infra.destroy(settings, echo=messages.append)
    # THEN nothing was listed, the copy is gone only after the real run, and the message says why
    assert dry.listed == real.listed == () and not real.removed
    assert not (settings.build_dir / "terraform-local").exists()
    assert "Nothing to remove for --target local" in messages[-1]


# --- plan summary ------------------------------------------------------------------------------


def test_plan_summary_counts_like_terraform_and_groups_by_type() -> None:
    # GIVEN a plan with creates, an update, a replacement, a delete, a forget, a no-op and a data read
    # WHEN it is summarised
    summary = summarize_plan(PLAN_JSON)
    # THEN a replacement counts as one add and one destroy; no-ops and reads are left out
    assert summary.totals == {"add": 3, "change": 1, "destroy": 2, "forget": 1}
    assert summary.by_type() == {
        "aws_cloudwatch_log_group": {"add": 0, "change": 0, "destroy": 0, "forget": 1},
        "aws_iam_role": {"add": 1, "change": 0, "destroy": 0, "forget": 0},
        "aws_lambda_function": {"add": 1, "change": 0, "destroy": 1, "forget": 0},
        "aws_s3_object": {"add": 1, "change": 1, "destroy": 1, "forget": 0},
    }


def test_plan_markdown_is_ready_to_paste_in_a_pull_request() -> None:
    # GIVEN the summary of a plan  WHEN it is rendered
    markdown = render_plan_markdown(summarize_plan(PLAN_JSON), "Terraform plan")
    # THEN it has Terraform's totals line, one table row per type, and every address with its action
    assert "**Plan: 3 to add, 1 to change, 2 to destroy, 1 to forget.**" in markdown
    assert ["`aws_lambda_function`", "1", "0", "1"] in table_rows(markdown)
    assert ["`aws_s3_object`", "1", "1", "1"] in table_rows(markdown)
    assert "- `-/+` replace `aws_lambda_function.classifier`" in markdown
    assert "aws_s3_bucket.site" not in markdown and "data.aws_iam_policy_document" not in markdown
    assert "<details><summary>6 resources</summary>" in markdown


def test_plan_markdown_of_an_empty_plan_says_no_changes() -> None:
    # GIVEN a plan with only no-ops  WHEN it is rendered  THEN it says so, with no table
    markdown = render_plan_markdown(
        summarize_plan({"resource_changes": [PLAN_JSON["resource_changes"][5]]}), "T"
    )
    assert "**No changes.**" in markdown and "|" not in markdown


# --- confirmation ------------------------------------------------------------------------------


def test_asking_without_a_terminal_says_to_pass_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no terminal on stdin (CI)  WHEN destroy would ask  THEN it stops and names --yes and --dry-run
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    with pytest.raises(InfraError, match=r"--yes.*--dry-run"):
        infra.ask("Remove?")


# --- the SageMaker endpoint --------------------------------------------------------------------


def test_endpoint_clean_up_finds_and_deletes_endpoint_config_and_model(moto: MotoServer) -> None:
    # GIVEN an endpoint, its config and its model in (emulated) SageMaker
    sagemaker = moto.client("sagemaker")
    sagemaker.create_model(
        ModelName="cleanup-model",
        ExecutionRoleArn="arn:aws:iam::000000000000:role/sagemaker",
        PrimaryContainer={"Image": "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"},
    )
    variant = {"VariantName": "v", "ModelName": "cleanup-model", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName="cleanup-config", ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
    )
    sagemaker.create_endpoint(EndpointName="cleanup", EndpointConfigName="cleanup-config")
    # WHEN they are found and deleted
    found = find_endpoint_resources(sagemaker, "cleanup")
    assert found == EndpointResources(
        "cleanup", "cleanup-config", ("cleanup-model",), EndpointCapacity("instance", "ml.m5.large", 1)
    )
    delete_endpoint_resources(sagemaker, found)
    # THEN none is left, and deleting again (already gone) is not an error
    assert find_endpoint_resources(sagemaker, "cleanup") is None
    assert "cleanup-config" not in [
        c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
    ]
    assert "cleanup-model" not in [m["ModelName"] for m in sagemaker.list_models()["Models"]]
    delete_endpoint_resources(sagemaker, found)

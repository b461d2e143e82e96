"""ops/infra/destroy.py without a stack to remove: the local target, confirmation, and the SageMaker
endpoint clean-up against moto (the stack's own destroy: test_stack_on_moto.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ml.aws.resources import EndpointResources, delete_endpoint_resources, find_endpoint_resources
from ml.deploy import EndpointCapacity
from ops.infra.destroy import ask, forget_emulated
from ops.infra.errors import InfraError
from ops.infra.moto_server import MotoServer
from ops.settings import load_settings


def test_destroy_for_the_local_target_only_clears_the_working_copy(tmp_path: Path) -> None:
    # GIVEN a working copy left by a local `invoke infra`
    settings = load_settings(build_dir=tmp_path / "build", terraform_dir=tmp_path / "tf", target="local")
    (settings.build_dir / "terraform-local").mkdir(parents=True)
    messages: list[str] = []
    # WHEN a dry run, then a real destroy, run (no tfvars, no moto: neither is needed)
    dry = forget_emulated(settings.build_dir, dry_run=True, echo=messages.append)
    assert (settings.build_dir / "terraform-local").exists()
    real = forget_emulated(settings.build_dir, echo=messages.append)
    # THEN nothing was listed, the copy is gone only after the real run, and the message says why
    assert dry.listed == real.listed == () and not real.removed
    assert not (settings.build_dir / "terraform-local").exists()
    assert "Nothing to remove for --target local" in messages[-1]


def test_asking_without_a_terminal_says_to_pass_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no terminal on stdin (CI)  WHEN destroy would ask  THEN it stops and names --yes and --dry-run
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    with pytest.raises(InfraError, match=r"--yes.*--dry-run"):
        ask("Remove?")


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

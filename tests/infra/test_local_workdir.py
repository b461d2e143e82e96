"""ops/infra/local_workdir.py: the local target's working copy of the root module, pointed at the emulator."""

from __future__ import annotations

from pathlib import Path

from ops.infra.local_workdir import EDGE_RESOURCE, LOCAL_OVERRIDE, local_override, prepare_local_workdir


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
        ["main.tf", "endpoint.auto.tfvars.json", "dev.tfvars", LOCAL_OVERRIDE]
    )
    override = (dest / LOCAL_OVERRIDE).read_text()
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
    (source / "edge.tf").write_text(f"{EDGE_RESOURCE} {{\n}}\n")
    # WHEN its working copy for the emulator is prepared
    dest = prepare_local_workdir(source, tmp_path / "local", "http://127.0.0.1:4321")
    # THEN the override keeps the emulator's provider settings and tells the distribution not to wait
    override = (dest / LOCAL_OVERRIDE).read_text()
    assert override.startswith(local_override("http://127.0.0.1:4321", aliases=(None,)))
    assert override.endswith(f"{EDGE_RESOURCE} {{\n  wait_for_deployment = false\n}}\n")


def test_the_override_of_a_module_without_provider_aliases_configures_only_the_default_provider(
    tmp_path: Path,
) -> None:
    # GIVEN a root module with one provider configuration (as terraform/ci-role and terraform/bootstrap)
    source = tmp_path / "ci-role"
    source.mkdir()
    (source / "versions.tf").write_text('provider "aws" {\n  region = var.aws_region\n}\n')
    # WHEN its working copy for the emulator is prepared
    override = (
        prepare_local_workdir(source, tmp_path / "w", "http://127.0.0.1:4321") / LOCAL_OVERRIDE
    ).read_text()
    # THEN it overrides that one provider only: an override of an undeclared alias fails `terraform init`
    assert override.count('provider "aws" {') == 1 and "alias" not in override


def test_the_local_override_can_send_one_service_elsewhere() -> None:
    # GIVEN moto for every service but Application Auto Scaling, which goes to the tag proxy
    override = local_override("http://127.0.0.1:4321", {"appautoscaling": "http://127.0.0.1:4322"})
    # THEN that one service has its own URL, the others keep moto's
    assert 'appautoscaling = "http://127.0.0.1:4322"' in override
    assert 'cloudwatch     = "http://127.0.0.1:4321"' in override

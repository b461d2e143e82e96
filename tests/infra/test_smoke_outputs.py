"""``invoke smoke --target aws`` takes its URLs from the stack's outputs in Terraform's state: a real
``terraform apply`` of a root module with the stack's output names, and a stack never applied (one line).
The checks themselves run against real servers in tests/local/test_smoke.py."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from ml.config import ROOT
from ops.infra.outputs import DeployedUrls, deployed_urls
from ops.infra.terraform import TerraformRunner, write_cli_config
from tests.browser.servers import closed_port_url
from tests.helpers import clean_env, make_settings, run_invoke

from .conftest import ENDPOINT, write_endpoint_tfvars

OUTPUTS = {
    "site_url": closed_port_url(),  # where nothing answers: `invoke smoke` then names the URL it took
    "api_url": "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
    "site_bucket_name": "dbpedia-classifier-site-20260101000000000000000001",
}


def test_the_urls_are_the_outputs_and_the_bucket_is_addressed_in_the_stack_region(
    terraform: str, tmp_path: Path
) -> None:
    # GIVEN a state holding the stack's outputs (a real apply) and the tfvars of a stack in eu-west-1
    settings = make_settings(tmp_path)
    settings.terraform_dir.mkdir()
    (settings.terraform_dir / "outputs.tf").write_text(
        "".join(f'output "{name}" {{\n  value = "{value}"\n}}\n' for name, value in OUTPUTS.items())
    )
    TerraformRunner(settings.terraform_dir, write_cli_config(tmp_path / "terraform.rc")).apply()
    write_endpoint_tfvars(settings.terraform_dir, dataclasses.replace(ENDPOINT, aws_region="eu-west-1"))
    # WHEN smoke asks where the stack answers
    urls = deployed_urls(settings)
    # THEN the site and the API are the outputs, the bucket its regional S3 URL
    assert urls == DeployedUrls(
        OUTPUTS["site_url"],
        OUTPUTS["api_url"],
        f"https://{OUTPUTS['site_bucket_name']}.s3.eu-west-1.amazonaws.com",
    )
    # AND `invoke smoke --target aws` goes to the site_url of the state
    env = clean_env(DBP_TERRAFORM_DIR=str(settings.terraform_dir), DBP_BUILD_DIR=str(settings.build_dir))
    done = run_invoke(env, "smoke", "--target", "aws")
    assert done.returncode == 1 and done.stderr.startswith(
        f"error: nothing answers at {OUTPUTS['site_url']}/ (Connection refused)"
    ), done.stderr


def test_smoke_of_a_stack_never_applied_is_one_line(terraform: str, tmp_path: Path) -> None:
    # GIVEN the real root module with no state (nothing applied yet)
    folder = tmp_path / "terraform"
    shutil.copytree(
        ROOT / "terraform", folder, ignore=shutil.ignore_patterns("tests", "ci-role", ".terraform*")
    )
    (folder / "terraform.tfstate").unlink(missing_ok=True)
    (folder / "backend.tf").unlink(missing_ok=True)
    # WHEN `invoke smoke --target aws` runs without --url
    env = clean_env(DBP_TERRAFORM_DIR=str(folder), DBP_BUILD_DIR=str(tmp_path / "build"))
    done = run_invoke(env, "smoke", "--target", "aws")
    # THEN one line says there is no stack and what to do
    assert done.returncode == 1 and not done.stdout, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: no applied stack in {folder} (its state has no site_url, api_url, site_bucket_name output): "
        "run `invoke infra --target aws` first, or give the site's URL with --url"
    ]

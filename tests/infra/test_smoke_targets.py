"""``invoke smoke --target aws`` takes its URLs from the stack's outputs in Terraform's state: a real
``terraform apply`` of a root module with the stack's output names, and a stack never applied (one line).
And the bucket check against the emulator's S3. moto 5.2.5 answers an anonymous read 403 when no bucket
policy allows it, but 200 as soon as any statement allows ``s3:GetObject`` on the key, whatever its
principal or condition and despite a public access block: the applied stack's bucket (readable by its
distribution only) reads 200 there, where AWS answers 403. So the check is proven here on a private
bucket and on one that grants everyone, not on the applied stack. The other checks run against real
servers in tests/local/test_smoke.py."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from ml.config import ROOT
from ops.infra.moto_server import MotoServer
from ops.infra.outputs import DeployedUrls, deployed_urls
from ops.infra.terraform import TerraformRunner, write_cli_config
from ops.local.smoke import FAILED, PASSED, bucket_private
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


def test_the_bucket_check_passes_on_a_private_bucket_and_fails_on_one_that_grants_everyone(
    moto: MotoServer,
) -> None:
    # GIVEN two buckets holding index.html on the emulator's S3: one private, one whose policy lets anyone
    # GetObject
    s3 = moto.client("s3")
    for name in ("smoke-private", "smoke-public"):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="index.html", Body=b"<!doctype html>")
    grant = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::smoke-public/*",
    }
    s3.put_bucket_policy(
        Bucket="smoke-public", Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]})
    )
    # WHEN smoke reads each anonymously  THEN the private one answers 403 (passed), the public 200 (failed)
    assert bucket_private(f"{moto.url}/smoke-private").mark == PASSED
    public = bucket_private(f"{moto.url}/smoke-public")
    assert public.mark == FAILED and f"{moto.url}/smoke-public/index.html answers 200; " in public.detail

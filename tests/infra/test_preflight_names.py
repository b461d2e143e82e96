"""The preflight's names: each name made from the stack name against its AWS limit, with the same rule for the
stack name as terraform/ and terraform/bootstrap. No AWS call (the rest of the preflight: tests/aws)."""

from __future__ import annotations

import re

import pytest

from ml.config import ROOT
from ops.infra.preflight import SAGEMAKER_NAMES, STACK_NAME, name_checks


def test_a_31_character_stack_name_fits_and_32_fail_at_the_site_bucket_prefix() -> None:
    # GIVEN stack names of 31 and 32 characters  WHEN their names are checked
    fits, too_long = name_checks("a" * 30 + "b"), name_checks("a" * 31 + "b")
    # THEN 31 passes; 32 fails in one line naming the bucket prefix, its length, the limit and the fix
    assert [c.ok for c in fits] == [True]
    [failed] = too_long
    assert failed.ok is False
    assert (
        "site bucket prefix (S3, less Terraform's 26-character suffix) "
        f"'{'a' * 31}b-site-' has 38 characters, at most 37" in failed.detail
    )
    assert failed.detail.endswith(
        "pass --endpoint-name with one of at most 31 lower-case letters, digits and hyphens"
    )


@pytest.mark.parametrize("stack", ["Dbpedia", "-dbpedia", "db_pedia", "ab"])
def test_a_stack_name_terraform_refuses_fails(stack: str) -> None:
    # GIVEN a name terraform/variables.tf `name` refuses  THEN so does the preflight
    [failed] = name_checks(stack)
    assert failed.ok is False and "is not 3-31 lower-case letters, digits and hyphens" in failed.detail


def test_training_alone_checks_only_sagemaker_s_names() -> None:
    # GIVEN a 44-character endpoint name (no stack of that name can exist, but an endpoint can)
    # THEN training passes; at 45 the default execution role's name is too long for IAM (64)
    assert [c.ok for c in name_checks("e" * 44, SAGEMAKER_NAMES)] == [True]
    [failed] = name_checks("e" * 45, SAGEMAKER_NAMES)
    assert (
        failed.ok is False and "SageMaker execution role" in failed.detail and "at most 64" in failed.detail
    )


def test_the_stack_name_rule_is_the_terraform_modules_own() -> None:
    # GIVEN the `name` validations of terraform/ and terraform/bootstrap  THEN they are the preflight's rule
    for module in ("variables.tf", "bootstrap/variables.tf"):
        text = (ROOT / "terraform" / module).read_text()
        block = text[text.index('variable "name"') :]
        pattern = re.search(r'can\(regex\("([^"]+)", var\.name\)\)', block)
        assert pattern is not None, module
        assert pattern.group(1) == STACK_NAME.pattern, module

"""terraform/bootstrap applied by real Terraform to a moto_server, and `invoke preflight` on that account.

One apply for the module. moto lacks two things the preflight asks: ``iam:SimulatePrincipalPolicy`` (a 500)
and SageMaker's Service Quotas (moto knows only ``vpc``). ops/infra/preflight_gaps.py answers only those, in
front of moto: the simulation evaluates the role's policies as Terraform stored them in moto, with moto's own
``IAMPolicy`` evaluator; the quotas are the values each test sets. Everything else (STS, IAM roles, S3) is
moto's.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from invoke import Context
from invoke.exceptions import Exit
from moto.iam.access_control import IAMPolicy, PermissionResult

from ml.aws import preflight as sm_preflight
from ml.aws import session as aws_session
from ml.aws.preflight import PreflightError
from ml.config import ROOT
from ops.infra import preflight
from ops.infra.moto_server import MotoServer
from ops.infra.preflight_gaps import PreflightGapProxy
from ops.infra.terraform import TerraformRunner, terraform_binary, write_cli_config
from ops.settings import Settings
from tests.helpers import make_settings

from .conftest import ACCOUNT, REGION, point_at
from .engineer_calls import ROLE_ARN, engineer_calls

ROLE = "dbpedia-classifier-sagemaker-execution"
ENOUGH = {
    "ml.c5.xlarge for training job usage": 2,
    "ml.t2.medium for endpoint usage": 2,
    "ml.m5.large for transform job usage": 1,
}


@dataclass
class Account:
    """The emulated account with the bootstrap module applied, and the gap proxy in front of it."""

    moto: MotoServer
    gaps: PreflightGapProxy
    outputs: dict[str, Any]

    def client(self, service: str) -> Any:
        return self.moto.client(service, REGION)

    def role_policy(self, role: str = ROLE) -> dict[str, Any]:
        """The execution role's inline policy as Terraform stored it."""
        iam = self.client("iam")
        (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
        return dict(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    """A moto_server with terraform/bootstrap applied (real Terraform, the mirror's provider)."""
    if terraform_binary() is None:
        pytest.skip("terraform is not installed")
    work = tmp_path_factory.mktemp("bootstrap")
    module = work / "module"
    shutil.copytree(
        ROOT / "terraform" / "bootstrap", module, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
    )
    with MotoServer(account_id=ACCOUNT) as moto, PreflightGapProxy(moto.url, REGION) as gaps:
        runner = TerraformRunner(module, write_cli_config(work / "terraform.rc"), env=moto.aws_env(REGION))
        runner.init()
        yield Account(moto, gaps, runner.apply().outputs)


@pytest.fixture
def aws_env(account: Account, monkeypatch: pytest.MonkeyPatch) -> Account:
    """boto3 pointed at the account, IAM and Service Quotas at the gap proxy, quotas that suffice."""
    point_at(account.moto, monkeypatch)
    monkeypatch.delenv("DBP_PREFLIGHT")
    for name, value in account.gaps.env.items():
        monkeypatch.setenv(name, value)
    account.gaps.applied = dict(ENOUGH)
    return account


def settings(tmp: Path, **overrides: Any) -> Settings:
    return make_settings(tmp, **{"target": "aws", "region": REGION, **overrides})


def run(settings: Settings, *commands: str) -> tuple[list[str], PreflightError | None]:
    """The preflight's printed lines, and its error when a check failed."""
    lines: list[str] = []
    try:
        preflight.run(settings, commands or ("train", "tune", "classify", "plan", "infra"), lines.append)
    except PreflightError as exc:
        return lines, exc
    return lines, None


# --- the policies are code ----------------------------------------------------------------------


def test_the_bootstrap_role_holds_every_action_the_sdk_role_check_simulates(account: Account) -> None:
    # GIVEN the actions the installed SDK gates a ModelTrainer on (its own list, and ours read the same way)
    from sagemaker.core.helper.iam_role_resolver import _get_smoke_test_actions

    simulated = sm_preflight.sdk_role_check_actions()
    assert simulated == _get_smoke_test_actions("training")
    assert {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"} < set(simulated)
    assert len([a for a in simulated if a.startswith("ec2:")]) == 9
    # WHEN the role's policy, as Terraform stored it, is evaluated by moto's IAM evaluator
    policy = IAMPolicy(json.dumps(account.role_policy()))
    # THEN every one of them is allowed (this fails when terraform/bootstrap drops one)
    missing = [a for a in simulated if policy.is_action_permitted(a) != PermissionResult.PERMITTED]
    assert missing == []


def test_the_role_reaches_the_project_s_objects_image_logs_and_alarms_and_nothing_wider(
    account: Account,
) -> None:
    # GIVEN what SageMaker does as the role for this project, on the ARNs it uses
    needs = sm_preflight.project_needs(
        make_settings(Path("/unused"), target="aws", region=REGION), f"sagemaker-{REGION}-{ACCOUNT}", ACCOUNT
    )
    policy = IAMPolicy(json.dumps(account.role_policy()))
    # THEN each is allowed on exactly that resource (transform/ and models/ included)
    assert [
        (a, r)
        for actions, r in needs
        for a in actions
        if policy.is_action_permitted(a, r) != PermissionResult.PERMITTED
    ] == []
    # AND S3 stops at the prefix, logs at SageMaker's groups, alarms at the stack's
    for action, resource in [
        ("s3:GetObject", f"arn:aws:s3:::sagemaker-{REGION}-{ACCOUNT}/another-project/data/x"),
        ("s3:GetObject", "arn:aws:s3:::someone-elses-bucket/dbpedia-classifier/data/x"),
        ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x:log-stream:y"),
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:other-stack-alarm"),
    ]:
        assert policy.is_action_permitted(action, resource) != PermissionResult.PERMITTED, (action, resource)


def test_the_outputs_name_the_role_and_the_ml_engineer_s_policy(account: Account) -> None:
    # THEN the outputs are the role the tasks default to and the engineer's managed policy
    assert account.outputs["execution_role_arn"] == ROLE_ARN
    assert (
        account.outputs["ml_engineer_policy_arn"]
        == f"arn:aws:iam::{ACCOUNT}:policy/dbpedia-classifier-ml-engineer"
    )
    document = account.client("iam").get_policy_version(
        PolicyArn=account.outputs["ml_engineer_policy_arn"], VersionId="v1"
    )["PolicyVersion"]["Document"]
    policy = IAMPolicy(json.dumps(document) if not isinstance(document, str) else document)
    # AND the engineer may hand the role to SageMaker only
    assert (
        policy.is_action_permitted(
            "iam:PassRole",
            ROLE_ARN,
            incoming_condition_values={"iam:PassedToService": "sagemaker.amazonaws.com"},
        )
        == PermissionResult.PERMITTED
    )
    assert (
        policy.is_action_permitted(
            "iam:PassRole",
            ROLE_ARN,
            incoming_condition_values={"iam:PassedToService": "lambda.amazonaws.com"},
        )
        != PermissionResult.PERMITTED
    )


def test_the_ml_engineer_s_policy_allows_each_call_of_the_commands_on_the_arns_they_use(
    account: Account, tmp_path: Path
) -> None:
    # GIVEN the engineer's policy as Terraform stored it, and what the commands call on which ARN
    arn = account.outputs["ml_engineer_policy_arn"]
    version = account.client("iam").get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = account.client("iam").get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    policy = IAMPolicy(json.dumps(document["Document"]))
    calls = engineer_calls(settings(tmp_path))
    # THEN moto's evaluator allows each (this fails when a grant or its resource pattern is dropped)
    assert [(a, r) for a, r in calls if policy.is_action_permitted(a, r) != PermissionResult.PERMITTED] == []
    # AND another stack's endpoint, another bucket and a wildcard-free policy stay out of reach
    for action, resource in [
        ("sagemaker:UpdateEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/other-stack"),
        ("sagemaker:DeleteModel", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/other-stack-{'0' * 16}"),
        ("s3:PutObject", "arn:aws:s3:::another-bucket/dbpedia-classifier/data/x"),
        ("iam:SimulatePrincipalPolicy", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    ]:
        assert policy.is_action_permitted(action, resource) != PermissionResult.PERMITTED, (action, resource)
    actions = [s["Action"] for s in document["Document"]["Statement"]]
    assert not [a for named in actions for a in ([named] if isinstance(named, str) else named) if "*" in a]


# --- the preflight -------------------------------------------------------------------------------


def test_preflight_passes_on_a_bootstrapped_account_with_the_quotas(aws_env: Account, tmp_path: Path) -> None:
    # GIVEN the bootstrapped account, enough quota, and no role named (the default role is the bootstrap's)
    # WHEN the preflight runs every check
    lines, error = run(settings(tmp_path))
    # THEN every check passes, one line each, and what cannot be checked is a note
    assert error is None, "\n".join(lines)
    assert lines[0] == f"ok   credentials: account {ACCOUNT} as arn:aws:sts::{ACCOUNT}:user/moto"
    assert any(
        line.startswith(f"ok   execution role: {ROLE_ARN} trusts sagemaker.amazonaws.com") for line in lines
    )
    assert sum(line.startswith("ok   quota: ") for line in lines) == 3
    assert lines[-1].startswith("note CloudFront: CloudFront needs a verified account")


def test_a_role_lacking_one_action_the_sdk_simulates_fails_naming_it(
    aws_env: Account, tmp_path: Path
) -> None:
    # GIVEN a role like the bootstrap's without ec2:DescribeVpcs
    document = aws_env.role_policy()
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != "ec2:DescribeVpcs"]
    iam = aws_env.client("iam")
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    iam.create_role(RoleName="narrow-execution", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="narrow-execution", PolicyName="p", PolicyDocument=json.dumps(document))
    # WHEN the preflight checks it
    role = f"arn:aws:iam::{ACCOUNT}:role/narrow-execution"
    lines, error = run(settings(tmp_path, role_arn=role), "train")
    # THEN it fails with one line naming the action, and the task's error says nothing was started
    assert error is not None and "nothing was started" in str(error)
    assert (
        f"FAIL execution role: {role} is denied ec2:DescribeVpcs: grant them (terraform/bootstrap's role"
        in "\n".join(lines)
    )


def test_a_missing_role_fails_and_says_to_apply_the_bootstrap(aws_env: Account, tmp_path: Path) -> None:
    # GIVEN a stack whose execution role was never created  WHEN the preflight runs (no waiting here)
    chosen = settings(tmp_path, endpoint_name="other-stack")
    identity = {"Account": ACCOUNT, "Arn": f"arn:aws:sts::{ACCOUNT}:user/moto"}
    found = sm_preflight.execution_role(
        boto3.Session(region_name=REGION), chosen, identity, sleep=lambda _: None
    )
    # THEN one failed check names the default role and the module that creates it
    assert [c.line() for c in found] == [
        f"FAIL execution role: arn:aws:iam::{ACCOUNT}:role/other-stack-sagemaker-execution does not exist: "
        "apply terraform/bootstrap (README.md, Deploying to AWS), or pass --role-arn"
    ]


def test_a_role_created_seconds_before_is_waited_for_while_iam_propagates(
    aws_env: Account, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a role that appears only after the first look (IAM propagating: it is created during the wait)
    iam = aws_env.client("iam")
    role = iam.get_role(RoleName=ROLE)["Role"]
    waits: list[float] = []

    def propagate(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            iam.create_role(
                RoleName="fresh-sagemaker-execution",
                AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]),
            )
            iam.put_role_policy(
                RoleName="fresh-sagemaker-execution",
                PolicyName="p",
                PolicyDocument=json.dumps(aws_env.role_policy()),
            )

    identity = {"Account": ACCOUNT, "Arn": f"arn:aws:sts::{ACCOUNT}:user/moto"}
    chosen = settings(tmp_path, role_arn=f"arn:aws:iam::{ACCOUNT}:role/fresh-sagemaker-execution")
    # WHEN the preflight looks for it
    with caplog.at_level(logging.INFO, logger="dbpedia"):
        found = sm_preflight.execution_role(
            boto3.Session(region_name=REGION), chosen, identity, sleep=propagate
        )
    # THEN it waited a bounded, growing time with a log line each, then found the role and passed
    assert waits == [2.0, 4.0]
    assert caplog.text.count("IAM may still be propagating it") == 2
    assert [c.ok for c in found] == [True], [c.line() for c in found]


def test_quotas_set_too_low_fail_with_the_quota_s_name_and_the_count_needed(
    aws_env: Account, tmp_path: Path
) -> None:
    # GIVEN one endpoint instance allowed (a blue/green update needs two) and one training instance (tuning
    # runs two jobs at once)
    aws_env.gaps.applied = {
        **ENOUGH,
        "ml.t2.medium for endpoint usage": 1,
        "ml.c5.xlarge for training job usage": 1,
    }
    # WHEN the preflight runs
    lines, error = run(settings(tmp_path, tune_max_parallel_jobs=2, tune_max_jobs=4))
    # THEN both fail, each naming the quota, its value and what is needed, and the run stops
    text = "\n".join(lines)
    assert error is not None
    assert (
        "FAIL quota: 'ml.c5.xlarge for training job usage' is 1, tuning's 2 parallel jobs needs 2: "
        "request 2 in the Service Quotas console, Amazon SageMaker"
    ) in text
    assert (
        "FAIL quota: 'ml.t2.medium for endpoint usage' is 1, the endpoint (1 instances, twice during a "
        "blue/green update) needs 2"
    ) in text
    assert "ok   quota: 'ml.m5.large for transform job usage' is 1, Batch Transform needs 1" in text


def test_a_quota_at_zero_among_aws_defaults_fails_and_an_unknown_one_is_a_note(
    aws_env: Account, tmp_path: Path
) -> None:
    # GIVEN no applied values: AWS's defaults, 0 for the transform type; no entry at all for the training type
    aws_env.gaps.applied = {}
    aws_env.gaps.defaults = {"ml.t2.medium for endpoint usage": 2, "ml.m5.large for transform job usage": 0}
    try:
        lines, error = run(settings(tmp_path), "train", "classify")
    finally:
        aws_env.gaps.defaults = {}
    text = "\n".join(lines)
    # THEN the zero fails, the missing quota is a note to check by hand
    assert "FAIL quota: 'ml.m5.large for transform job usage' is 0, Batch Transform needs 1" in text
    assert "note quota: Service Quotas lists no 'ml.c5.xlarge for training job usage'" in text
    assert error is not None and "(quota)" in str(error)


def test_a_region_without_blazingtext_fails_in_preflight_and_in_connect(
    aws_env: Account, tmp_path: Path
) -> None:
    # GIVEN a region the SDK has no BlazingText image for
    chosen = settings(tmp_path, region="ap-southeast-7")
    # WHEN the preflight runs  THEN the region check fails naming it, and no role or quota is asked
    lines, error = run(chosen, "train")
    assert error is not None
    region_line = next(line for line in lines if " region: " in line)
    assert region_line.startswith("FAIL region: region ap-southeast-7 has no SageMaker BlazingText image")
    assert not any("quota" in line or "execution role" in line for line in lines)
    # AND connect (train without the preflight) says the same instead of the SDK's ValueError traceback
    with pytest.raises(
        aws_session.SageMakerError, match="region ap-southeast-7 has no SageMaker BlazingText image"
    ):
        aws_session.connect(chosen)


def test_the_state_bucket_and_its_lock_are_checked_when_there_is_an_s3_backend(
    aws_env: Account, tmp_path: Path
) -> None:
    # GIVEN a backend.tf naming a state bucket that does not exist yet
    chosen = settings(tmp_path)
    chosen.terraform_dir.mkdir(parents=True, exist_ok=True)
    (chosen.terraform_dir / "backend.tf").write_text(
        'terraform {\n  backend "s3" {\n    bucket       = "team-tfstate"\n'
        '    key          = "dbpedia-classifier/terraform.tfstate"\n    region       = "us-east-1"\n'
        "    use_lockfile = true\n  }\n}\n"
    )
    lines, error = run(chosen, "plan")
    assert error is not None
    assert "FAIL state: bucket team-tfstate does not exist: create it" in "\n".join(lines)
    # WHEN the bucket exists  THEN the state passes and the lock write is a note
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket="team-tfstate")
    lines, error = run(chosen, "plan")
    assert error is None, "\n".join(lines)
    assert (
        "ok   state: s3://team-tfstate/dbpedia-classifier/terraform.tfstate answers, and its lock is free"
        in lines
    )
    # WHEN another run holds the lock  THEN the preflight stops and says so
    s3.put_object(Bucket="team-tfstate", Key="dbpedia-classifier/terraform.tfstate.tflock", Body=b"{}")
    lines, error = run(chosen, "plan")
    assert error is not None
    assert "another plan or apply holds the lock" in "\n".join(lines)


def test_invoke_preflight_and_train_print_one_line_a_check_and_exit_1_on_a_failure(
    aws_env: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tasks

    # GIVEN no endpoint instance allowed
    aws_env.gaps.applied = {**ENOUGH, "ml.t2.medium for endpoint usage": 0}
    monkeypatch.setenv("DBP_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("DBP_TERRAFORM_DIR", str(tmp_path / "tf"))
    # WHEN `invoke preflight --target aws` and `invoke train --target aws` run
    for task in (tasks.preflight, tasks.train):
        with pytest.raises(Exit) as stopped:
            task(Context(), target="aws")
        # THEN each stops with exit 1 and one line, after one line per check
        assert stopped.value.code == 1
        assert str(stopped.value.message).startswith("error: preflight: 1 of ")
        assert "\n" not in str(stopped.value.message)
        assert "FAIL quota: 'ml.t2.medium for endpoint usage' is 0" in capsys.readouterr().out
    # AND train started nothing: no bucket, no prepared data
    buckets = [b["Name"] for b in aws_env.client("s3").list_buckets()["Buckets"]]
    assert f"sagemaker-{REGION}-{ACCOUNT}" not in buckets
    assert not (tmp_path / "build" / "data").exists()


def test_invoke_preflight_passes_with_the_first_deploy_s_quotas_and_checks_tuning_s_when_asked(
    aws_env: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tasks

    # GIVEN the quotas docs/first-deploy.md has the administrator request: one training instance, the
    # endpoint's two (blue/green), one transform instance
    aws_env.gaps.applied = {**ENOUGH, "ml.c5.xlarge for training job usage": 1}
    monkeypatch.setenv("DBP_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("DBP_TERRAFORM_DIR", str(tmp_path / "tf"))
    # WHEN `invoke preflight --target aws` runs  THEN it passes: the first deployment does not tune
    tasks.preflight(Context(), target="aws")
    printed = capsys.readouterr().out
    assert "preflight: every check passed" in printed
    # AND, with no terraform/backend.tf, a note says that a stack CI applied is not seen from this checkout
    assert "note state: no terraform/backend.tf: the state stays in this checkout" in printed
    # AND with --tune it fails on tuning's two parallel training jobs, in one line
    with pytest.raises(Exit, match=r"^error: preflight: 1 of "):
        tasks.preflight(Context(), target="aws", tune=True)
    assert "FAIL quota: 'ml.c5.xlarge for training job usage' is 1" in capsys.readouterr().out


def test_plan_and_infra_on_aws_stop_at_the_preflight_before_terraform_runs(
    aws_env: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tasks

    # GIVEN an S3 backend whose state bucket is missing
    terraform_dir = tmp_path / "tf"
    terraform_dir.mkdir()
    (terraform_dir / "backend.tf").write_text(
        'terraform {\n  backend "s3" {\n    bucket = "missing-tfstate"\n'
        '    key    = "s/terraform.tfstate"\n  }\n}\n'
    )
    monkeypatch.setenv("DBP_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("DBP_TERRAFORM_DIR", str(terraform_dir))
    # WHEN `invoke plan --target aws` and `invoke infra --target aws` run
    for task in (tasks.plan, tasks.infra):
        with pytest.raises(Exit) as stopped:
            task(Context(), target="aws")
        # THEN each stops with the preflight's one line, naming the bucket
        assert stopped.value.code == 1 and "preflight: 1 of" in str(stopped.value.message)
        assert "FAIL state: bucket missing-tfstate does not exist" in capsys.readouterr().out
    # AND Terraform was never initialised
    assert not (terraform_dir / ".terraform").exists()

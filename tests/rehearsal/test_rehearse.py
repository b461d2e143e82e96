"""`./dev rehearse`: the whole first deployment against the emulator with IAM enforced, each step as its
principal, green from end to end; the rules of its steps and folder, which decide its exit code; and, on
the stack its workflows applied, the CI roles held to their policies.

One rehearsal serves the module (``walk``, its steps run in file order): it stops after apply.yml, the
tests in the middle look at the applied stack (the clean checkout's model inputs; apply.yml's smoke step,
passed, and failing once the stack breaks a promise; each CI role's rights, each less one action; the
resources against the ORIGINAL policies), and the last test runs the rest.
Each CI role holds exactly its policy from terraform/ci-role/ in the emulator's view (ops/infra/iam_view.py:
moto checks actions, and resources for S3 and for IAM calls on an existing role only); the ARNs are
checked against the original policy in-process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ml import vocabulary
from ml.aws import store
from ml.errors import ProjectError
from ml.versions import version_folder
from ops.infra.iam_view import Call, refused, state_arns, uncovered_resources
from ops.infra.terraform import terraform_binary
from ops.rehearsal import ROWS_PER_CLASS
from ops.rehearsal.rehearse import (
    ACCOUNT,
    MARKER,
    NAME,
    REGION,
    STATE_BUCKET,
    Rehearsal,
    RehearsalError,
    Steps,
    fresh_workdir,
    rehearsal,
)
from ops.rehearsal.workflow import WorkflowError, base_env
from ops.settings import load_settings
from tests.helpers import in_ci

pytestmark = pytest.mark.slow

PLAN_ROLE = f"{NAME}-ci-plan"
DEPLOY_ROLE = f"{NAME}-ci-deploy"
APPLIED = "apply.yml with that plan, as the CI deploy role"


def test_a_failing_step_ends_the_rehearsal_with_a_line_saying_why_and_later_steps_do_not_run() -> None:
    printed: list[str] = []
    steps = Steps(printed.append)
    ran: list[str] = []
    # GIVEN a step that passes, then one that fails with the project's kind of error
    steps.run("first", lambda: "did it")

    def broken() -> str:
        raise ProjectError("the plan role may not read the state")

    # WHEN the failing one runs  THEN the rehearsal stops there (the task's exit code 1), naming it
    with pytest.raises(RehearsalError, match="stopped at step 2: second"):
        steps.run("second", broken)
        steps.run("third", lambda: ran.append("third") or "")
    assert ran == []
    assert steps.lines[0].startswith("✓ first (") and steps.lines[0].endswith("): did it")
    assert steps.lines[1] == "✗ second: the plan role may not read the state"
    assert printed == ["... first", steps.lines[0], "... second", steps.lines[1]]


def test_the_folder_of_an_earlier_rehearsal_is_replaced_and_any_other_is_refused(tmp_path: Path) -> None:
    # GIVEN a folder someone keeps files in  WHEN a rehearsal is pointed at it  THEN it is refused, untouched
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(RehearsalError, match="is not empty and no rehearsal made it"):
        fresh_workdir(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    # AND a rehearsal's own folder is emptied for the next one, and marked again
    fresh_workdir(tmp_path / "rehearsal")
    (tmp_path / "rehearsal" / "plan.log").write_text("old")
    fresh_workdir(tmp_path / "rehearsal")
    assert sorted(p.name for p in (tmp_path / "rehearsal").iterdir()) == [MARKER]


@dataclass
class Walk:
    """The module's rehearsal, its steps not yet run, and every line it printed."""

    running: Rehearsal
    rest: list[tuple[str, Any]]
    printed: list[str]

    @property
    def workdir(self) -> Path:
        return self.running.account.workdir

    def dev(self, role: str, *command: str, without: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        """``./dev COMMAND`` in apply.yml's runner clone (its backend.tf, tfvars and build/), as ``role``
        holding its policy less ``without``; stdout and stderr together."""
        principal = self.become(role, without)
        return subprocess.run(
            ["./dev", *command],
            cwd=self.workdir / "runner-apply",
            env=base_env(**self.running.account.env(principal)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=600,
            check=False,
        )

    def planned_changes(self) -> list[str]:
        """The addresses the runner clone's last plan (build/tfplan.json) would change."""
        planned = json.loads((self.workdir / "runner-apply" / "build" / "tfplan.json").read_text())
        return [
            change["address"]
            for change in planned.get("resource_changes", [])
            if set(change["change"]["actions"]) - {"no-op", "read"}
        ]

    def become(self, role: str, without: tuple[str, ...] = ()) -> Any:
        return self.running.account.emulator.become(role, without=without)

    def state(self) -> dict[str, Any]:
        """The stack's state as the S3 backend holds it (read by the administrator)."""
        s3 = self.running.account.emulator.client("s3")
        [key] = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=STATE_BUCKET)["Contents"]
            if o["Key"].endswith(".tfstate")
        ]
        return json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=key)["Body"].read())

    def lock_files(self) -> list[str]:
        """The S3 backend's lock objects left in the state bucket (none once a command finished)."""
        listing = self.running.account.emulator.client("s3").list_objects_v2(Bucket=STATE_BUCKET)
        return [item["Key"] for item in listing.get("Contents", []) if item["Key"].endswith(".tflock")]


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    """The rehearsal of this repository's committed HEAD, run up to and including apply.yml."""
    if terraform_binary() is None:
        if in_ci():
            pytest.fail("CI=true but terraform is missing")
        pytest.skip("terraform is not installed here")
    printed: list[str] = []
    folder = tmp_path_factory.mktemp("walk") / "rehearsal"
    with rehearsal(folder, "auto", ROWS_PER_CLASS, printed.append) as running:
        path = running.path()
        applied = next(i for i, (title, _) in enumerate(path) if title == APPLIED) + 1
        try:
            for title, body in path[:applied]:
                running.steps.run(title, body)
        except RehearsalError:
            pytest.fail("\n".join(running.steps.lines))
        yield Walk(running, path[applied:], printed)


def test_the_workflows_plan_in_a_clean_clone_with_the_model_trained_elsewhere_and_apply_that_plan(
    walk: Walk,
) -> None:
    # GIVEN the ML engineer's version, trained in their clone
    engineer = walk.running.engineer
    assert engineer is not None
    sha = json.loads(walk.running.tfvars[0])["model_sha256"]
    trained = version_folder(load_settings(build_dir=engineer.clone / "build"), sha)
    # THEN plan.yml's runner (no build/ before) fetched the model's files by the tfvars' sha256, byte for byte
    planner = walk.workdir / "runner-plan" / "build"
    fetched = version_folder(load_settings(build_dir=planner), sha)
    for name in store.FILES:
        assert (fetched / name).read_bytes() == (trained / name).read_bytes(), name
    # AND the planned Lambda ships that model's vocabulary and names the model
    with zipfile.ZipFile(planner / "lambda.zip") as zf:
        assert zf.read(vocabulary.VOCABULARY) == (trained / vocabulary.VOCABULARY).read_bytes()
    planned = json.loads((planner / "tfplan.json").read_text())
    assert planned["variables"]["model_sha256"]["value"] == sha
    assert sum("create" in c["change"]["actions"] for c in planned["resource_changes"]) > 20
    # AND apply.yml applied that plan: the function runs the zip apply.yml rebuilt, with the model's sha256
    function = walk.running.account.emulator.client("lambda").get_function_configuration(FunctionName=NAME)
    assert function["Environment"]["Variables"]["MODEL_SHA256"] == sha
    zip_path = walk.workdir / "runner-apply" / "build" / "lambda.zip"
    assert function["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
    assert walk.lock_files() == []


def test_apply_yml_smoke_step_runs_as_the_workflow_holds_it_against_the_applied_stack_and_passes(
    walk: Walk,
) -> None:
    """moto serves no traffic: the smoke step runs against stand-ins built from what the apply left in the
    emulator (ops/rehearsal/live.py), and every check that can run without TLS passes."""
    printed = walk.printed
    # THEN the stand-in said what it stands in for and why, just before the step, which passed
    step = "    apply.yml: Smoke-test the deployed stack (./dev smoke --target aws): ok"
    assert step in printed
    stand_in = printed[printed.index(step) - 1]
    assert stand_in.startswith("    apply.yml: stand-in: CloudFront at http://127.0.0.1:")
    assert stand_in.endswith(
        "moto's CloudFront and API Gateway serve no traffic, it runs no Lambda and fails anonymous S3 reads"
    )
    # AND the smoke task's own lines: five checks passed, the redirect skipped for want of TLS
    log = (walk.workdir / "apply.log").read_text(encoding="utf-8")
    smoke = log[log.index("$ Smoke-test the deployed stack") :]
    assert "- HTTP redirects to HTTPS: skipped: http://127.0.0.1:" in smoke
    for check in (
        "✓ security headers: the page carries all 5 of terraform/security-headers.json",
        '✓ POST /classify, the seed\'s example → Athlete: label "Athlete"',
        "✓ POST /classify, a non-topic text → label null: label null",
        "✓ the API's own URL without the origin header → 403: http://127.0.0.1:",
        "✓ the site bucket read directly → 403: http://127.0.0.1:",
        "/dbpedia-classifier-site-",
    ):
        assert check in smoke, check
    assert "smoke: no check failed at http://127.0.0.1:" in smoke


def test_a_second_plan_as_the_deploy_role_in_another_checkout_has_no_changes(walk: Walk) -> None:
    """After the apply, a plan as the deploy role (it refreshes every resource) in apply.yml's checkout, not
    the one that planned, would change nothing: the state holds no path of the checkout that wrote it."""
    done = walk.dev(DEPLOY_ROLE, "plan", "--target", "aws")
    assert done.returncode == 0, done.stdout[-3000:]
    assert walk.planned_changes() == [], done.stdout[-3000:]
    assert walk.lock_files() == []


def test_every_resource_the_deploy_role_created_matches_its_policy(walk: Walk) -> None:
    """moto checks most of the deploy role's calls against resource "*": each ARN in the state must be one
    the ORIGINAL policy lets the role create (the action that creates its type, on that ARN)."""
    state = walk.state()
    services = {arn.split(":")[2] for _, _, arn in state_arns(state)}
    assert services >= {
        "iam",
        "lambda",
        "apigateway",
        "logs",
        "s3",
        "sns",
        "cloudwatch",
        "cloudfront",
        "wafv2",
    }
    assert uncovered_resources(walk.become(DEPLOY_ROLE).policies, state) == []
    # AND the check is not vacuous: a log group's ARN in another account matches no pattern
    tampered = json.loads(json.dumps(state).replace(f":{ACCOUNT}:log-group:", ":999999999999:log-group:"))
    missing = uncovered_resources(walk.become(DEPLOY_ROLE).policies, tampered)
    assert missing and all(":999999999999:log-group:" in line for line in missing)


@pytest.mark.parametrize("role", [PLAN_ROLE, DEPLOY_ROLE])
def test_each_policy_fits_iams_inline_limit(walk: Walk, role: str) -> None:
    """AWS refuses a role whose inline policies exceed 10,240 characters (whitespace aside); moto does not."""
    policies = walk.become(role).policies
    assert sum(len(json.dumps(policy, separators=(",", ":"))) for policy in policies) <= 10_240


def test_the_plan_role_plans_the_applied_stack_with_the_state_lock(walk: Walk) -> None:
    """The next pull request's plan: it refreshes every resource (the read rights) and takes and frees the
    lock (moto checks S3 by resource: the lock object and the state key)."""
    done = walk.dev(PLAN_ROLE, "plan", "--target", "aws")
    assert done.returncode == 0, done.stdout[-3000:]
    assert walk.planned_changes() == []
    assert walk.lock_files() == []


def test_the_plan_role_without_one_read_fails_naming_it(walk: Walk) -> None:
    """Take iam:GetRole from the plan role: its plan stops with exit 1, and the message names the action."""
    done = walk.dev(PLAN_ROLE, "plan", "--target", "aws", without=("iam:GetRole",))
    assert done.returncode == 1
    assert "is not authorized to perform: iam:GetRole" in done.stdout


def test_the_plan_role_cannot_write(walk: Walk) -> None:
    """The plan role's policy has no write: a write as the plan role is refused."""
    plan_role = walk.become(PLAN_ROLE)
    with pytest.raises(ClientError, match="is not authorized to perform: sns:CreateTopic"):
        walk.running.account.emulator.client("sns", plan_role.env).create_topic(Name=f"{NAME}-alarms-2")


ROLE_CHANGES = {
    "put_role_policy": {
        "PolicyName": "more",
        "PolicyDocument": json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    },
    "attach_role_policy": {"PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    "update_assume_role_policy": {"PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": []})},
}


@pytest.mark.parametrize("operation", sorted(ROLE_CHANGES))
@pytest.mark.parametrize("target", [DEPLOY_ROLE, PLAN_ROLE])
def test_the_deploy_role_cannot_change_the_ci_roles(walk: Walk, operation: str, target: str) -> None:
    """The deploy role may write the Lambda's role only; an explicit Deny covers the two CI roles.

    Checked twice: by the resource check against the ORIGINAL policy (what AWS decides), and on the
    emulator, which evaluates IAM calls that name an existing role against that role's ARN, so the Deny
    (kept as written in the emulator view) refuses the call there too.
    """
    deploy = walk.become(DEPLOY_ROLE)
    action = "iam:" + "".join(word.title() for word in operation.split("_"))
    target_arn = f"arn:aws:iam::{ACCOUNT}:role/{target}"
    lambda_arn = f"arn:aws:iam::{ACCOUNT}:role/{NAME}-lambda"
    assert [call.resource for call in refused(deploy.policies, [Call(action, target_arn)])] == [target_arn]
    if action != "iam:AttachRolePolicy":  # not granted on any role: the Lambda's role is inline-only
        assert refused(deploy.policies, [Call(action, lambda_arn)]) == []
    iam = walk.running.account.emulator.client("iam", deploy.env)
    with pytest.raises(ClientError, match=f"is not authorized to perform: {action}"):
        getattr(iam, operation)(RoleName=target, **ROLE_CHANGES[operation])


def test_the_smoke_step_fails_when_the_deployed_lambda_no_longer_checks_the_origin_header(walk: Walk) -> None:
    """The stack breaks a promise (its function lost ORIGIN_VERIFY_SECRET: anyone may call the API around
    CloudFront and its WAF): apply.yml's smoke step, run again on it, fails and names the check.

    Before the destroy test: its ``./dev destroy`` rebuilds the runner's zip without the model's vocabulary,
    which the stand-in then refuses to run as the function's code (it is not)."""
    functions = walk.running.account.emulator.client("lambda")
    variables = functions.get_function_configuration(FunctionName=NAME)["Environment"]["Variables"]
    broken = {name: value for name, value in variables.items() if name != "ORIGIN_VERIFY_SECRET"}
    functions.update_function_configuration(FunctionName=NAME, Environment={"Variables": broken})
    try:
        with pytest.raises(WorkflowError, match=r"Smoke-test the deployed stack .* exited 1"):
            walk.running.smoke_again()
    finally:
        functions.update_function_configuration(FunctionName=NAME, Environment={"Variables": variables})
    log = (walk.workdir / "apply-again.log").read_text(encoding="utf-8")
    assert "✗ the API's own URL without the origin header → 403: http://127.0.0.1:" in log
    assert "/classify answers 200; anyone can call the API around CloudFront" in log
    assert "✓ POST /classify, the seed's example → Athlete" in log  # the rest of the stack still works
    assert "smoke: 1 of 6 checks failed at http://127.0.0.1:" in log


def test_destroy_without_one_action_fails_naming_it_and_removes_nothing(walk: Walk) -> None:
    """destroy.yml less sagemaker:DescribeEndpoint: it stops before removing anything, naming the action."""
    before = walk.state()["resources"]
    without = ("sagemaker:DescribeEndpoint",)
    done = walk.dev(DEPLOY_ROLE, "destroy", "--target", "aws", "--endpoint", "--yes", without=without)
    assert done.returncode == 1
    assert "is not authorized to perform: sagemaker:DescribeEndpoint" in done.stdout
    assert walk.state()["resources"] == before


def test_the_rest_of_the_first_deployment_rehearses_green_down_to_nothing_billing(walk: Walk) -> None:
    # GIVEN the endpoint the ML engineer deployed: the deploy role may remove exactly its resources
    sagemaker = walk.running.account.emulator.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=NAME)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
    deletes = [
        Call("sagemaker:DeleteEndpoint", endpoint["EndpointArn"]),
        Call("sagemaker:DeleteEndpointConfig", config["EndpointConfigArn"]),
        *(
            Call("sagemaker:DeleteModel", f"{arn}:model/{v['ModelName']}")
            for v in config["ProductionVariants"]
        ),
    ]
    assert refused(walk.become(DEPLOY_ROLE).policies, deletes) == []
    # WHEN the rest runs: the next model, rollback and classify as the ML engineer, destroy.yml, the check
    for title, body in walk.rest:
        walk.running.steps.run(title, body)
    # THEN every step passed, each as its principal, in the order of docs/first-deploy.md
    lines = walk.running.steps.lines
    assert [line.split(" (")[0] for line in lines] == [
        "✓ bootstrap modules, as the administrator",
        "✓ ./dev train --target aws --approve, as the ML engineer",
        "✓ plan.yml in a fresh clone, as the CI plan role",
        f"✓ {APPLIED}",
        "✓ ./dev train --target aws --approve on more rows, as the ML engineer",
        "✓ ./dev rollback --target aws, as the ML engineer",
        "✓ ./dev classify --target aws, as the ML engineer",
        "✓ destroy.yml with the endpoint, as the CI deploy role",
        "✓ nothing billable is left, as the administrator",
    ]
    # AND the second model replaced the first by a guarded update, the rollback put the first back, and the
    # bulk job answered the seed's text with the live model
    assert lines[4].endswith("by UpdateEndpoint, guarded by the stack's alarms")
    assert lines[6].endswith(": seed text -> Athlete")
    # AND the state is empty: destroy.yml removed the stack and the endpoint
    assert walk.state()["resources"] == []
    # AND every SageMaker call the ML engineer's commands made (recorded as they ran: training, the model
    # package, the endpoint and its guarded update, the rollback, the transform job) names an ARN the
    # ORIGINAL policy allows: moto checked the actions only
    engineer = walk.running.engineer
    assert engineer is not None
    made = walk.running.account.sagemaker.calls(engineer.env["AWS_ACCESS_KEY_ID"], REGION, ACCOUNT)
    assert {c.action for c in made} >= {
        f"sagemaker:{op}"
        for op in (
            "CreateTrainingJob",
            "CreateModelPackage",
            "CreateModel",
            "CreateEndpointConfig",
            "CreateEndpoint",
            "UpdateEndpoint",
            "CreateTransformJob",
        )
    }
    assert refused(engineer.principal.policies, made) == []
    # AND the workflows' own steps ran, as their files hold them; what cannot run here said why
    printed = walk.printed
    assert "    plan.yml: Plan and review (./dev plan --target aws): ok" in printed
    assert (
        "    apply.yml: Apply the reviewed plan (./dev infra --target aws --plan-file build/tfplan): ok"
        in printed
    )
    assert any(
        line.startswith("    apply.yml: Find the reviewed plan run: skipped: it needs GitHub")
        for line in printed
    )
    assert "    apply.yml: Smoke-test the deployed stack (./dev smoke --target aws): ok" in printed
    assert "    destroy.yml: Confirmation: ok" in printed
    assert any("plan.yml: aws-actions/configure-aws-credentials@v6: assumed " in line for line in printed)

"""``invoke rehearse``: what a team does on a real account, run against the emulator with IAM enforced.

One moto_server plays the account (ops/infra/iam_emulator.py). Each step runs as the principal that does
it on AWS, holding exactly the policy the repository gives it, in its emulator view (ops/infra/iam_view.py):

1. the administrator creates the state bucket, applies the bootstrap modules (``terraform/bootstrap``,
   ``terraform/ci-role``) and raises the quotas a first run needs;
2. the ML engineer runs ``./dev train --target aws --approve`` in their own clone (the training job really
   trains: ops/infra/moto_gaps.py ``TrainingContainerProxy``);
3. in a fresh clone without ``build/``, the ``run:`` steps of ``plan.yml`` as the CI plan role, then those
   of ``apply.yml`` with the saved plan as the CI deploy role, read from the workflow files;
4. ``destroy.yml``'s steps as the deploy role, the endpoint included;
5. a check, as the administrator, that nothing billable is left.

moto's own gaps are answered in front of it: SimulatePrincipalPolicy and SageMaker's quotas
(ops/infra/preflight_gaps.py), training jobs that write nothing (``TrainingContainerProxy``). Steps that
need GitHub itself, and apply.yml's smoke test of the live site, are skipped with the reason. One line
per step; the first failure stops the rehearsal with the step's log named.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.aws.preflight import quota_needs
from ml.config import ROOT
from ml.errors import ProjectError
from ops.infra.iam_emulator import IamEmulator, Principal, managed_policy
from ops.infra.local_workdir import EDGE_NO_WAIT
from ops.infra.moto_gaps import TrainingContainerProxy
from ops.infra.preflight_gaps import PreflightGapProxy
from ops.rehearsal.checkouts import fresh_clone, head
from ops.rehearsal.workflow import GITHUB_ONLY, Step, WorkflowRun, base_env, copy_paths, render
from ops.settings import load_settings

ACCOUNT = "111122223333"  # the rehearsal's account: a realistic id, so nothing mistakes it for the local one
REGION = "us-east-1"
NAME = "dbpedia-classifier"
STATE_BUCKET = f"{NAME}-terraform-state-{ACCOUNT}"
REPOSITORY = "example-org/dbpedia-classifier"
WORKFLOWS = Path(".github") / "workflows"
# apply.yml's last step checks the deployed site from outside; the emulator's CloudFront serves no traffic.
NO_TRAFFIC = (
    re.compile(r"\./dev smoke\b"),
    "the emulator's CloudFront serves no traffic (tests/local/test_smoke.py)",
)

Echo = Callable[[str], None]


class RehearsalError(ProjectError):
    """A step of the rehearsal failed; the message names it and where its log is."""


@dataclass
class Account:
    """The emulated account (IAM enforced), the stand-ins in front of it, and what the bootstrap made."""

    emulator: IamEmulator
    gaps: PreflightGapProxy  # iam:SimulatePrincipalPolicy and SageMaker's Service Quotas
    training: TrainingContainerProxy  # SageMaker, with training jobs that really train
    workdir: Path
    outputs: dict[str, Any] = field(default_factory=dict)  # the bootstrap modules' outputs

    def env(self, principal: Principal) -> dict[str, str]:
        """The environment of a process acting as ``principal`` against the emulator and its stand-ins."""
        env = {k: v for k, v in principal.env.items() if v is not None}
        return {**env, **self.gaps.env, "AWS_ENDPOINT_URL_SAGEMAKER": self.training.url}


@contextmanager
def emulated_account(workdir: Path) -> Iterator[Account]:
    """An emulated account with IAM enforced, the preflight's gaps and a training container in front."""
    with IamEmulator(ACCOUNT, REGION) as emulator, ExitStack() as stack:
        admin = (
            str(emulator.admin_env["AWS_ACCESS_KEY_ID"]),
            str(emulator.admin_env["AWS_SECRET_ACCESS_KEY"]),
        )
        gaps = stack.enter_context(PreflightGapProxy(emulator.moto.url, REGION, credentials=admin))
        training = TrainingContainerProxy(emulator.moto.url, emulator.client, workdir / "training-container")
        yield Account(emulator, gaps, stack.enter_context(training), workdir)


def bootstrap(account: Account) -> str:
    """The administrator's one-time setup (docs/first-deploy.md, section 1): the state bucket, the
    bootstrap and CI modules, and the quotas a first run needs."""
    emulator = account.emulator
    emulator.client("s3").create_bucket(Bucket=STATE_BUCKET)
    for module, variables in (
        ("bootstrap", {"aws_region": REGION}),
        ("ci-role", {"aws_region": REGION, "github_repository": REPOSITORY, "state_bucket": STATE_BUCKET}),
    ):
        runner = emulator.apply(ROOT / "terraform" / module, account.workdir / "modules" / module, variables)
        account.outputs |= runner.outputs()
    needs = quota_needs(load_settings(target="aws"), ["train"])
    account.gaps.applied = {need.quota: need.count for need in needs}
    quotas = ", ".join(f"{need.quota} = {need.count}" for need in needs)
    made = ", ".join(sorted(account.outputs))
    return f"state bucket {STATE_BUCKET}; {made}; quotas {quotas}"


def run_logged(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    """Run a command as a person would, its output to ``log``; RehearsalError naming the log on failure."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if done.returncode != 0:
        tail = " | ".join(line for line in log.read_text(encoding="utf-8").splitlines()[-3:] if line.strip())
        raise RehearsalError(f"`{' '.join(command)}` exited {done.returncode}: {tail} (log: {log})")


def ml_engineer(account: Account, data: str, rows_per_class: int) -> str:
    """The ML engineer, holding the bootstrap's managed policy, trains and deploys from their own clone;
    the tfvars it wrote."""
    emulator = account.emulator
    policy = managed_policy(emulator.client("iam"), str(account.outputs["ml_engineer_policy_arn"]))
    engineer = emulator.become(f"{NAME}-ml-engineer", [policy])
    clone = fresh_clone(ROOT, account.workdir / "ml-engineer")
    env = base_env(**account.env(engineer), DBP_MAX_ROWS_PER_CLASS=str(rows_per_class), DBP_DATA=data)
    env.pop("CI")  # a person's laptop
    run_logged(["./dev", "train", "--target", "aws", "--approve"], clone, env, account.workdir / "train.log")
    return (clone / "terraform" / "endpoint.auto.tfvars.json").read_text(encoding="utf-8")


def workflow_context(account: Account, tfvars: str, **extra: Any) -> dict[str, Any]:
    """The expressions the workflows use: repository variables, inputs, the event."""
    return {
        "vars": {
            "AWS_PLAN_ROLE_ARN": account.outputs["plan_role_arn"],
            "AWS_DEPLOY_ROLE_ARN": account.outputs["deploy_role_arn"],
            "AWS_REGION": REGION,
            "ENDPOINT_TFVARS_JSON": tfvars,
            "TF_STATE_BUCKET": STATE_BUCKET,
        },
        "github": {"token": "not-used-by-the-rehearsal", "repository": REPOSITORY},
        **extra,
    }


def actions(account: Account, artifacts: Path) -> dict[str, Callable[[Step, WorkflowRun], str]]:
    """What stands for each ``uses:`` action the workflows use."""

    def nothing(reason: str) -> Callable[[Step, WorkflowRun], str]:
        return lambda step, run: reason

    def credentials(step: Step, run: WorkflowRun) -> str:
        role = render(step.with_["role-to-assume"], run.context)
        run.env |= account.env(account.emulator.become(role.rsplit("/", 1)[1]))
        return f"assumed {role} (its policy's emulator view)"

    def upload(step: Step, run: WorkflowRun) -> str:
        copied = copy_paths(step.with_["path"], run.checkout, artifacts / step.with_["name"])
        return f"kept {', '.join(copied)} as artifact {step.with_['name']}"

    def download(step: Step, run: WorkflowRun) -> str:
        source = artifacts / step.with_["name"]
        copied = copy_paths("**/*", source, run.checkout / step.with_["path"])
        return f"fetched artifact {step.with_['name']} ({len(copied)} files) into {step.with_['path']}"

    return {
        "actions/checkout": nothing("the runner's fresh clone (no build/)"),
        "actions/setup-python": nothing("this machine's Python"),
        "hashicorp/setup-terraform": nothing("this machine's terraform"),
        "aws-actions/configure-aws-credentials": credentials,
        "actions/upload-artifact": upload,
        "actions/download-artifact": download,
        "actions/github-script": nothing("skipped: it talks to GitHub's API (the PR comment)"),
    }


def run_workflow(account: Account, name: str, context: dict[str, Any], artifacts: Path, echo: Echo) -> None:
    """A fresh runner clone, wired to the emulator, runs the workflow ``name``'s steps.

    The commit is the clone's: the pushed one (``github.sha``) and the pull request's head.
    """
    clone = fresh_clone(ROOT, account.workdir / f"runner-{name}")
    # the one change to the checkout: the distribution does not wait the provider's 30 s for a deployment
    # the emulator finishes at once
    (clone / "terraform" / "emulator_override.tf").write_text(EDGE_NO_WAIT, encoding="utf-8")
    sha = head(clone)
    event = {"pull_request": {"head": {"sha": sha}}}
    context = {**context, "github": {**context["github"], "sha": sha, "event": event}}
    env = base_env(
        GITHUB_SHA=sha,
        GITHUB_REF="refs/heads/main",
        GITHUB_REPOSITORY=REPOSITORY,
        GITHUB_WORKSPACE=str(clone),
    )
    log = account.workdir / f"{name}.log"
    run = WorkflowRun(clone, context, env, actions(account, artifacts), log, echo, (GITHUB_ONLY, NO_TRAFFIC))
    run.run(clone / WORKFLOWS / f"{name}.yml")


BILLABLE = {  # list call -> (result key, item name key, what it is): what bills while it exists or runs
    "list_endpoints": ("Endpoints", "EndpointName", "endpoint"),
    "list_endpoint_configs": ("EndpointConfigs", "EndpointConfigName", "endpoint config"),
    "list_models": ("Models", "ModelName", "model"),
}


def nothing_billable(account: Account) -> str:
    """As the administrator: no endpoint, endpoint config, model, or running job is left; what stays."""
    sagemaker = account.emulator.client("sagemaker")
    left = [
        f"{what} {item[name]}"
        for call, (key, name, what) in BILLABLE.items()
        for item in getattr(sagemaker, call)()[key]
    ]
    for call, key, name in (
        ("list_transform_jobs", "TransformJobSummaries", "TransformJobName"),
        ("list_training_jobs", "TrainingJobSummaries", "TrainingJobName"),
    ):
        left += [f"running job {j[name]}" for j in getattr(sagemaker, call)(StatusEquals="InProgress")[key]]
    if left:
        raise RehearsalError(f"still billing after destroy.yml: {', '.join(left)}")
    packages = sagemaker.list_model_packages(ModelPackageGroupName=NAME, ModelPackageType="Versioned")
    return (
        "no endpoint, endpoint config, model or running job; kept by design: "
        f"{len(packages['ModelPackageSummaryList'])} model package(s) in group {NAME}, the SageMaker bucket, "
        f"the state bucket {STATE_BUCKET}, the log groups, the bootstrap roles and policy"
    )


MARKER = ".rehearsal"  # in a folder a rehearsal made: the next one may replace it


def fresh_workdir(folder: Path) -> None:
    """Empty ``folder`` for a rehearsal: an earlier rehearsal's is replaced, anything else is refused."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).is_file():
            raise RehearsalError(f"{folder} is not empty and no rehearsal made it: choose another --workdir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by invoke rehearse; the next rehearsal replaces this folder\n")


@dataclass
class Steps:
    """The rehearsal's steps as they run: one line each, ✓ with its seconds or ✗ with why; the first
    failure ends the rehearsal (RehearsalError naming the step)."""

    echo: Echo = print
    lines: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def run(self, title: str, body: Callable[[], str]) -> None:
        """Run one step; ``body`` returns what it did, or raises a ProjectError that says what went wrong."""
        began = time.perf_counter()
        self.echo(f"... {title}")
        try:
            said = body()
        except ProjectError as exc:
            self.lines.append(f"✗ {title}: {exc}")
            self.echo(self.lines[-1])
            raise RehearsalError(f"the rehearsal stopped at step {len(self.lines)}: {title}") from None
        self.lines.append(f"✓ {title} ({time.perf_counter() - began:.0f} s): {said}")
        self.echo(self.lines[-1])

    @property
    def seconds(self) -> float:
        """Seconds since the first step started."""
        return time.perf_counter() - self.started


def rehearse(workdir: Path, data: str, rows_per_class: int, echo: Echo = print) -> Steps:
    """Run the whole path (module docstring) in ``workdir``; RehearsalError at the first failing step."""
    steps = Steps(echo)
    fresh_workdir(workdir)
    echo(f"rehearsing commit {head(ROOT)[:12]} in fresh clones (uncommitted changes are not in them)")
    artifacts = workdir / "artifacts"
    with emulated_account(workdir) as account:
        steps.run("bootstrap modules, as the administrator", lambda: bootstrap(account))
        tfvars: list[str] = []

        def train() -> str:
            tfvars.append(ml_engineer(account, data, rows_per_class))
            return f"endpoint {json.loads(tfvars[0])['endpoint_arn']} in terraform/endpoint.auto.tfvars.json"

        def workflow(name: str, said: str, **extra: Any) -> Callable[[], str]:
            def body() -> str:
                run_workflow(account, name, workflow_context(account, tfvars[0], **extra), artifacts, echo)
                return said

            return body

        steps.run("./dev train --target aws --approve, as the ML engineer", train)
        steps.run(
            "plan.yml in a fresh clone, as the CI plan role", workflow("plan", "the reviewed plan kept")
        )
        reviewed = {"reviewed": {"outputs": {"pr": "1", "run": "1"}}}
        steps.run(
            "apply.yml with that plan, as the CI deploy role", workflow("apply", "applied", steps=reviewed)
        )
        inputs = {"confirm": f"destroy {NAME}", "endpoint": True}
        steps.run(
            "destroy.yml with the endpoint, as the CI deploy role",
            workflow("destroy", "removed", inputs=inputs),
        )
        steps.run("nothing billable is left, as the administrator", lambda: nothing_billable(account))
    return steps

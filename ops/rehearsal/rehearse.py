"""``invoke rehearse``: what a team does on a real account, run against the emulator with IAM enforced.

One moto_server plays the account (ops/infra/iam_emulator.py). Each step runs as the principal that does
it on AWS, holding exactly the policy the repository gives it, in its emulator view (ops/infra/iam_view.py):

1. the administrator creates the state bucket, applies the bootstrap modules (``terraform/bootstrap``,
   ``terraform/ci-role``) and raises the quotas a first run needs;
2. the ML engineer runs ``./dev train --target aws --approve`` in their own clone (the training job really
   trains: ops/infra/sagemaker_standin.py);
3. in a fresh clone without ``build/``, the ``run:`` steps of ``plan.yml`` as the CI plan role, then those
   of ``apply.yml`` with the saved plan as the CI deploy role, read from the workflow files, its last
   one ``./dev smoke --target aws`` against stand-ins of the applied stack's traffic (ops/rehearsal/live.py);
4. the ML engineer's next model: ``train --approve`` again (a blue/green update guarded by the stack's
   alarms), ``rollback`` to the first, and ``classify --target aws`` (a Batch Transform job);
5. ``destroy.yml``'s steps as the deploy role, the endpoint included;
6. a check, as the administrator, that nothing billable is left.

moto's own gaps are answered in front of it: SimulatePrincipalPolicy and SageMaker's quotas
(ops/infra/preflight_gaps.py), jobs that run no container and the missing UpdateEndpoint
(``SageMakerStandIn``), and the traffic moto's CloudFront, API Gateway and Lambda do not serve (built from
what the apply left in the emulator: ops/rehearsal/live.py). Steps that need GitHub itself are skipped
with the reason. One line per step; the first failure stops the rehearsal with the step's log named.
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
from ops.infra.preflight_gaps import PreflightGapProxy
from ops.infra.sagemaker_standin import SageMakerStandIn
from ops.rehearsal.checkouts import fresh_clone, head
from ops.rehearsal.live import live_stack
from ops.rehearsal.workflow import GITHUB_ONLY, Step, WorkflowRun, base_env, copy_paths, render
from ops.settings import load_settings

ACCOUNT = "111122223333"  # the rehearsal's account: a realistic id, so nothing mistakes it for the local one
REGION = "us-east-1"
NAME = "dbpedia-classifier"
STATE_BUCKET = f"{NAME}-terraform-state-{ACCOUNT}"
REPOSITORY = "example-org/dbpedia-classifier"
WORKFLOWS = Path(".github") / "workflows"
# apply.yml's last step checks the deployed site from outside: it runs against the stand-ins of live.py.
SMOKE = re.compile(r"\./dev smoke\b")

Echo = Callable[[str], None]


class RehearsalError(ProjectError):
    """A step of the rehearsal failed; the message names it and where its log is."""


@dataclass
class Account:
    """The emulated account (IAM enforced), the stand-ins in front of it, and what the bootstrap made."""

    emulator: IamEmulator
    gaps: PreflightGapProxy  # iam:SimulatePrincipalPolicy and SageMaker's Service Quotas
    sagemaker: SageMakerStandIn  # SageMaker, with jobs that really run and endpoints that update
    workdir: Path
    outputs: dict[str, Any] = field(default_factory=dict)  # the bootstrap modules' outputs

    def env(self, principal: Principal) -> dict[str, str]:
        """The environment of a process acting as ``principal`` against the emulator and its stand-ins."""
        env = {k: v for k, v in principal.env.items() if v is not None}
        return {**env, **self.gaps.env, "AWS_ENDPOINT_URL_SAGEMAKER": self.sagemaker.url}


@contextmanager
def emulated_account(workdir: Path) -> Iterator[Account]:
    """An emulated account with IAM enforced, the preflight's gaps and a training container in front."""
    with IamEmulator(ACCOUNT, REGION) as emulator, ExitStack() as stack:
        admin = (
            str(emulator.admin_env["AWS_ACCESS_KEY_ID"]),
            str(emulator.admin_env["AWS_SECRET_ACCESS_KEY"]),
        )
        gaps = stack.enter_context(PreflightGapProxy(emulator.moto.url, REGION, credentials=admin))
        sagemaker = SageMakerStandIn(emulator.moto.url, emulator.client, workdir / "sagemaker")
        yield Account(emulator, gaps, stack.enter_context(sagemaker), workdir)


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


@dataclass
class Engineer:
    """The ML engineer: a principal holding the bootstrap's managed policy, working in their own clone."""

    account: Account
    clone: Path
    env: dict[str, str]
    principal: Principal  # its ORIGINAL policy, which the calls it made are checked against

    def run(self, *command: str, log: str, **env: str) -> None:
        """``./dev COMMAND`` in the engineer's clone, its output in ``log`` (under the workdir)."""
        run_logged(["./dev", *command], self.clone, {**self.env, **env}, self.account.workdir / log)

    def tfvars(self) -> str:
        """The endpoint tfvars their last deploy wrote."""
        return (self.clone / "terraform" / "endpoint.auto.tfvars.json").read_text(encoding="utf-8")


def ml_engineer(account: Account, data: str, rows_per_class: int) -> Engineer:
    """The ML engineer's clone, with their policy's credentials and the rehearsal's small data."""
    emulator = account.emulator
    policy = managed_policy(emulator.client("iam"), str(account.outputs["ml_engineer_policy_arn"]))
    engineer = emulator.become(f"{NAME}-ml-engineer", [policy])
    clone = fresh_clone(ROOT, account.workdir / "ml-engineer")
    env = base_env(**account.env(engineer), DBP_MAX_ROWS_PER_CLASS=str(rows_per_class), DBP_DATA=data)
    env.pop("CI")  # a person's laptop
    return Engineer(account, clone, env, engineer)


def live_version(engineer: Engineer) -> str:
    """The version (sha256 prefix) the endpoint serves, as the engineer's last deploy wrote it."""
    return str(json.loads(engineer.tfvars())["model_sha256"])[:16]


def next_model(engineer: Engineer, rows_per_class: int) -> str:
    """A second model on more rows, approved: a blue/green update guarded by the stack's endpoint alarms.
    The gate's margin is opened: the rehearsal's models are too small for their accuracies to compare."""
    before = live_version(engineer)
    engineer.run(
        "train",
        "--target",
        "aws",
        "--approve",
        log="train-next.log",
        DBP_MAX_ROWS_PER_CLASS=str(rows_per_class + 10),
        DBP_GATE_MARGIN="1",
    )
    after = live_version(engineer)
    if after == before or not engineer.account.sagemaker.updated:
        raise RehearsalError(f"the endpoint still serves {before}: the second model was not deployed")
    return f"{before} -> {after} by UpdateEndpoint, guarded by the stack's alarms"


def roll_back(engineer: Engineer, first: str) -> str:
    """``./dev rollback --target aws``: the earlier approved version back on the endpoint."""
    engineer.run("rollback", "--target", "aws", log="rollback.log")
    if live_version(engineer) != first:
        raise RehearsalError(f"rollback left {live_version(engineer)} on the endpoint, not {first}")
    return f"the endpoint serves {first} again"


SEED_TEXT = (  # the seed's own example: an athlete
    "Walter Perry Johnson was a Major League Baseball right-handed pitcher. He played his entire 21-year "
    "baseball career for the Washington Senators."
)


def classify_in_bulk(engineer: Engineer) -> str:
    """``./dev classify --target aws``: a Batch Transform job on the live model; its output read back."""
    source, output = engineer.clone / "texts.jsonl", engineer.clone / "labels.jsonl"
    source.write_text(json.dumps({"id": "seed", "text": SEED_TEXT}) + "\n", encoding="utf-8")
    engineer.run(
        "classify", "--target", "aws", "--input", str(source), "--output", str(output), log="classify.log"
    )
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    if [line.get("id") for line in lines] != ["seed"]:
        raise RehearsalError(f"{output} does not hold one answer for the one text sent: {lines}")
    return f"transform job {engineer.account.sagemaker.transformed[-1]}: seed text -> {lines[0]['label']}"


def workflow_context(account: Account, tfvars: str, **extra: Any) -> dict[str, Any]:
    """The expressions the workflows use: repository variables, inputs, the event."""
    return {
        "vars": {
            "AWS_PLAN_ROLE_ARN": account.outputs["plan_role_arn"],
            "AWS_DEPLOY_ROLE_ARN": account.outputs["deploy_role_arn"],
            "AWS_REGION": REGION,
            "ENDPOINT_TFVARS_JSON": tfvars,
            "TF_STATE_BUCKET": STATE_BUCKET,
            "TF_STATE_REGION": "",  # not set: GitHub gives "", and the state bucket is in the stack's region
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


def live_traffic(account: Account, stack: ExitStack) -> Callable[[Step, WorkflowRun], str]:
    """Before the smoke step: the applied stack's stand-ins (ops/rehearsal/live.py), served until ``stack``
    closes, their URLs in the step's environment as a user gives them."""

    def prepare(step: Step, run: WorkflowRun) -> str:
        folder = account.workdir / "live" / run.log.stem
        live = stack.enter_context(live_stack(account.emulator.client, run.checkout, run.env, folder))
        run.env |= live.env
        return live.line()

    return prepare


def runner(
    account: Account, clone: Path, name: str, context: dict[str, Any], echo: Echo, stack: ExitStack
) -> WorkflowRun:
    """The run of a workflow in the runner clone ``clone``, its log ``name``.log, its stand-ins in ``stack``.

    The commit is the clone's: the pushed one (``github.sha``) and the pull request's head.
    """
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
    artifacts = account.workdir / "artifacts"
    hooks = ((SMOKE, live_traffic(account, stack)),)
    return WorkflowRun(clone, context, env, actions(account, artifacts), log, echo, (GITHUB_ONLY,), hooks)


def run_workflow(account: Account, name: str, context: dict[str, Any], echo: Echo) -> None:
    """A fresh runner clone, wired to the emulator, runs the workflow ``name``'s steps."""
    clone = fresh_clone(ROOT, account.workdir / f"runner-{name}")
    # the one change to the checkout: the distribution does not wait the provider's 30 s for a deployment
    # the emulator finishes at once
    (clone / "terraform" / "emulator_override.tf").write_text(EDGE_NO_WAIT, encoding="utf-8")
    with ExitStack() as stack:
        runner(account, clone, name, context, echo, stack).run(clone / WORKFLOWS / f"{name}.yml")


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


@dataclass
class Rehearsal:
    """A rehearsal under way: the account, the steps so far, and the ML engineer once the bootstrap made
    their policy (:meth:`path` lists every step, so a caller may look at the account between two)."""

    account: Account
    data: str
    rows_per_class: int
    steps: Steps
    engineer: Engineer | None = None
    tfvars: list[str] = field(default_factory=list)  # the first model's, as CI's variable holds it

    def path(self) -> list[tuple[str, Callable[[], str]]]:
        """Every step in order: its title and what runs it (for :meth:`Steps.run`)."""
        account, first = self.account, ""

        def engineer() -> Engineer:
            if self.engineer is None:
                self.engineer = ml_engineer(account, self.data, self.rows_per_class)
            return self.engineer

        def train() -> str:
            nonlocal first
            engineer().run("train", "--target", "aws", "--approve", log="train.log")
            self.tfvars.append(engineer().tfvars())
            first = live_version(engineer())
            arn = json.loads(self.tfvars[0])["endpoint_arn"]
            return f"endpoint {arn} in terraform/endpoint.auto.tfvars.json"

        def workflow(name: str, said: str, **extra: Any) -> Callable[[], str]:
            def body() -> str:
                context = workflow_context(account, self.tfvars[0], **extra)
                run_workflow(account, name, context, self.steps.echo)
                return said

            return body

        reviewed = {"reviewed": {"outputs": {"pr": "1", "run": "1"}}}
        destroy_inputs = {"confirm": f"destroy {NAME}", "endpoint": True}
        return [
            ("bootstrap modules, as the administrator", lambda: bootstrap(account)),
            ("./dev train --target aws --approve, as the ML engineer", train),
            ("plan.yml in a fresh clone, as the CI plan role", workflow("plan", "the reviewed plan kept")),
            ("apply.yml with that plan, as the CI deploy role", workflow("apply", "applied", steps=reviewed)),
            (
                "./dev train --target aws --approve on more rows, as the ML engineer",
                lambda: next_model(engineer(), self.rows_per_class),
            ),
            ("./dev rollback --target aws, as the ML engineer", lambda: roll_back(engineer(), first)),
            ("./dev classify --target aws, as the ML engineer", lambda: classify_in_bulk(engineer())),
            (
                "destroy.yml with the endpoint, as the CI deploy role",
                workflow("destroy", "removed", inputs=destroy_inputs),
            ),
            ("nothing billable is left, as the administrator", lambda: nothing_billable(account)),
        ]

    def smoke_again(self) -> None:
        """apply.yml's credentials and smoke steps once more, in its runner clone, on the stack as the
        emulator holds it now (log: apply-again.log); WorkflowError when the smoke step fails."""
        clone = self.account.workdir / "runner-apply"
        context = workflow_context(self.account, self.tfvars[0])

        def picked(step: Step) -> bool:
            return step.action == "aws-actions/configure-aws-credentials" or bool(
                step.run and SMOKE.search(step.run)
            )

        with ExitStack() as stack:
            run = runner(self.account, clone, "apply-again", context, self.steps.echo, stack)
            run.run(clone / WORKFLOWS / "apply.yml", picked)


@contextmanager
def rehearsal(workdir: Path, data: str, rows_per_class: int, echo: Echo = print) -> Iterator[Rehearsal]:
    """A fresh ``workdir`` and the emulated account, for the steps to run in."""
    fresh_workdir(workdir)
    echo(f"rehearsing commit {head(ROOT)[:12]} in fresh clones (uncommitted changes are not in them)")
    with emulated_account(workdir) as account:
        yield Rehearsal(account, data, rows_per_class, Steps(echo))


def rehearse(workdir: Path, data: str, rows_per_class: int, echo: Echo = print) -> Steps:
    """Run the whole path (module docstring) in ``workdir``; RehearsalError at the first failing step."""
    with rehearsal(workdir, data, rows_per_class, echo) as running:
        for title, body in running.path():
            running.steps.run(title, body)
    return running.steps

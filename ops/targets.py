"""The one switch between this machine and AWS: :func:`select` picks the target the ``target`` setting names.

Both targets do the same jobs under the same names and return types, and the tasks call only these
(docs/targets.md). Local: ml/pipeline.py, ml/tune.py and the local endpoint (ops/local/bulk.py), with
nothing to check first. AWS: ml/aws/pipeline.py, ml/aws/tune.py and Batch Transform (ml/aws/transform.py),
checked first by the preflight (ops/infra/preflight.py), its site found in the applied stack
(ops/infra/outputs.py). Each method imports what it runs when it runs: the SageMaker SDK takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ops.settings import Settings

if TYPE_CHECKING:  # the targets' own modules are imported when a method runs
    from ml.pipeline import TrainOutcome
    from ml.records import InputSpec
    from ml.results import Summary
    from ml.versions import Listed, Review
    from ops.infra.destroy import DestroyReport
    from ops.infra.plan import PlanReport
    from ops.infra.terraform import ApplyResult


class SiteUrls(NamedTuple):
    """Where the site, its API and its bucket answer ("" where there is no such thing)."""

    site: str
    api: str
    bucket: str


class Tuned(Protocol):
    """What a tuning run found (``summary``, in words) and whether it rewrote the hyperparameters file."""

    @property
    def written(self) -> bool: ...

    @property
    def summary(self) -> str: ...


class Target(Protocol):
    """Where models are trained, versioned, deployed and asked: this machine or AWS."""

    def check(self, settings: Settings, commands: Iterable[str]) -> bool:
        """Check what ``commands`` (train, tune, classify, plan, infra) need before anything bills; False
        when there is nothing to check. Raises PreflightError when a check failed."""
        ...

    def train(self, settings: Settings, review: Review | None) -> TrainOutcome:
        """Train, evaluate, register and deploy a version past the gate (``review``: a person's prompt)."""
        ...

    def billing(self, settings: Settings) -> str:
        """What the deployed endpoint bills, in words ("" when nothing does)."""
        ...

    def tune(self, settings: Settings) -> Tuned:
        """Search the hyperparameters; the winner goes to the hyperparameters file."""
        ...

    def list_versions(self, settings: Settings) -> list[Listed]:
        """The versions, oldest first, and which one is live."""
        ...

    def approve(self, settings: Settings, version_id: str, status: str) -> str:
        """Set a version's approval; what now holds which status, in words."""
        ...

    def rollback(self, settings: Settings, to: str | None) -> str:
        """Put ``to`` (else the version live before) back on the endpoint without training; its id."""
        ...

    def classify(
        self, settings: Settings, source: Path, output: Path, spec: InputSpec, force: bool, explain: bool
    ) -> Summary:
        """Classify a file of texts into JSON lines (ml/bulk.py), with explanations when ``explain``."""
        ...

    def site_urls(self, settings: Settings) -> SiteUrls:
        """Where the deployed site, its API and its bucket answer, for ``invoke smoke``."""
        ...

    def collect_feedback(self, settings: Settings, folder: Path) -> str:
        """Bring visitors' feedback into ``folder`` (docs/feedback.md); what was done, in words ("": nothing
        to do)."""
        ...

    def plan(self, settings: Settings) -> PlanReport:
        """Plan the stack (ops/infra/plan.py): build/tfplan, its JSON and its review."""
        ...

    def apply(self, settings: Settings, plan_file: Path | None) -> ApplyResult:
        """Apply the stack, or exactly a saved and reviewed plan (``plan_file``)."""
        ...

    def destroy(
        self, settings: Settings, endpoint: bool, everything: bool, dry_run: bool, yes: bool
    ) -> DestroyReport:
        """List what the stack (``endpoint``: and the endpoint; ``everything``: all the project's) holds, ask
        unless ``yes``, then remove it (nothing on ``dry_run``)."""
        ...


class LocalTarget:
    """This machine: fastText, the versions under build/, the local endpoint."""

    def check(self, settings: Settings, commands: Iterable[str]) -> bool:
        return False

    def train(self, settings: Settings, review: Review | None) -> TrainOutcome:
        from ml import pipeline

        return pipeline.run(settings)  # a pending version is deployed or refused by unapproved_ok alone

    def billing(self, settings: Settings) -> str:
        return ""

    def tune(self, settings: Settings) -> Tuned:
        from ml import tune

        return tune.tune(settings)

    def list_versions(self, settings: Settings) -> list[Listed]:
        from ml import pipeline

        return pipeline.list_versions(settings)

    def approve(self, settings: Settings, version_id: str, status: str) -> str:
        from ml import pipeline

        return pipeline.approve(settings, version_id, status)

    def rollback(self, settings: Settings, to: str | None) -> str:
        from ml import pipeline

        return pipeline.rollback(settings, to)

    def classify(
        self, settings: Settings, source: Path, output: Path, spec: InputSpec, force: bool, explain: bool
    ) -> Summary:
        from ops.local import bulk

        return bulk.classify(settings, source, output, spec, force=force, explain=explain)

    def site_urls(self, settings: Settings) -> SiteUrls:
        return SiteUrls(f"http://{settings.host}:{settings.site_port}/", "", "")

    def collect_feedback(self, settings: Settings, folder: Path) -> str:
        return ""  # `invoke up` copies what its emulator's bucket received into the folder itself

    def plan(self, settings: Settings) -> PlanReport:
        from ops.infra.plan import plan
        from ops.infra.stack import emulated_stack

        return plan(settings, emulated_stack)

    def apply(self, settings: Settings, plan_file: Path | None) -> ApplyResult:
        from ops.infra.apply import apply_emulated
        from ops.infra.errors import InfraError

        if plan_file is not None:
            raise InfraError(
                "--plan-file is for --target aws: a local plan names the emulator of the command that made "
                "it, which stopped with it"
            )
        return apply_emulated(settings)

    def destroy(
        self, settings: Settings, endpoint: bool, everything: bool, dry_run: bool, yes: bool
    ) -> DestroyReport:
        from ops.infra.destroy import forget_emulated

        return forget_emulated(settings.build_dir, dry_run)


class AwsTarget:
    """AWS: SageMaker training, tuning, model packages, the endpoint's guarded update, Batch Transform."""

    def check(self, settings: Settings, commands: Iterable[str]) -> bool:
        from ops.infra import preflight

        preflight.run(settings, commands)
        return True

    def train(self, settings: Settings, review: Review | None) -> TrainOutcome:
        from ml.aws import pipeline

        return pipeline.run(settings, review)

    def billing(self, settings: Settings) -> str:
        from ml.deploy import EndpointCapacity

        capacity = EndpointCapacity.from_settings(settings)
        bills = "per request" if capacity.mode == "serverless" else "every hour it runs"
        return (
            f"endpoint: {settings.endpoint_name} ({capacity.describe()}, {settings.region}) bills {bills}; "
            "remove it with `invoke destroy --target aws --endpoint`"
        )

    def tune(self, settings: Settings) -> Tuned:
        from ml.aws import tune

        return tune.tune(settings)

    def list_versions(self, settings: Settings) -> list[Listed]:
        from ml.aws import pipeline

        return pipeline.list_versions(settings)

    def approve(self, settings: Settings, version_id: str, status: str) -> str:
        from ml.aws import pipeline

        return pipeline.approve(settings, version_id, status)

    def rollback(self, settings: Settings, to: str | None) -> str:
        from ml.aws import pipeline

        return pipeline.rollback(settings, to)

    def classify(
        self, settings: Settings, source: Path, output: Path, spec: InputSpec, force: bool, explain: bool
    ) -> Summary:
        from ml.aws import transform

        explain_words = settings.explain_max_words if explain else 0
        return transform.classify(settings, source, output, spec, force, explain_words)

    def site_urls(self, settings: Settings) -> SiteUrls:
        from ops.infra.outputs import deployed_urls

        deployed = deployed_urls(settings)
        return SiteUrls(deployed.site_url, deployed.api_url, deployed.bucket_url)

    def collect_feedback(self, settings: Settings, folder: Path) -> str:
        from ml.aws import feedback, session

        with session.aws_errors():
            new = feedback.collect(settings.region, settings.endpoint_name, folder)
        return f"{new} new items downloaded into {folder} (the bucket Lambda {settings.endpoint_name} names)"

    def plan(self, settings: Settings) -> PlanReport:
        from ops.infra.plan import plan
        from ops.infra.stack import aws_stack

        return plan(settings, aws_stack)

    def apply(self, settings: Settings, plan_file: Path | None) -> ApplyResult:
        from ops.infra.apply import apply_aws

        return apply_aws(settings, plan_file=plan_file)

    def destroy(
        self, settings: Settings, endpoint: bool, everything: bool, dry_run: bool, yes: bool
    ) -> DestroyReport:
        from ops.infra.destroy import destroy

        return destroy(settings, endpoint=endpoint, everything=everything, dry_run=dry_run, yes=yes)


TARGETS: dict[str, Callable[[], Target]] = {"local": LocalTarget, "aws": AwsTarget}


def select(settings: Settings) -> Target:
    """The target ``settings.target`` names (``--target``, ``DBP_TARGET``): the one place it is looked at."""
    return TARGETS[settings.target]()

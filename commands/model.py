"""The model's tasks on either target: train, tune, evaluate, classify, preflight, and the versions (models,
approve, rollback). The target is the ``target`` setting's, chosen once by ops/targets.py.
"""

from __future__ import annotations

import signal
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

from invoke import Context
from invoke.exceptions import Exit

from commands.cli import VERBOSE, check_first, cli_errors, describe, settings_task
from ops.settings import Settings

ROLLOUT = ("gate_margin", "bake_seconds", "traffic_shift")
ROLLOUT_FLAGS = {
    "approve": "register the new version Approved (else PendingManualApproval; env DBP_APPROVE)",
    "allow_unapproved": "development: deploy a version nobody approved (the default for target local; "
    "env DBP_ALLOW_UNAPPROVED)",
    "ignore_alarm": "aws: an endpoint alarm already in ALARM that may not stop the guarded update, which "
    "then does not watch it (repeat for more; env DBP_IGNORE_ALARMS, a JSON list)",
}


def rollout_settings(
    s: Settings, approve: bool, allow_unapproved: bool, ignore_alarm: list[str] | None = None
) -> Settings:
    """The settings with the rollout switches a flag turned on, and the alarms ``--ignore-alarm`` names."""
    on: dict[str, Any] = {
        name: True for name, given in (("approve", approve), ("allow_unapproved", allow_unapproved)) if given
    }
    if ignore_alarm:
        on["ignore_alarms"] = tuple(ignore_alarm)
    return s.replace(**on) if on else s


def approval_prompt(version: Any) -> bool:
    """Show a pending version's metrics and ask whether to approve and deploy it (``train --target aws``)."""
    metrics = version.manifest["metrics"]
    worst = min(metrics.get("test_per_class_f1", {}).items(), key=lambda item: item[1], default=None)
    print(
        f"\nversion {version.id} is trained: test accuracy {metrics['test_accuracy']:.4f}, macro-F1 "
        f"{metrics['test_macro_f1']:.4f}"
        + (f", lowest class F1 {worst[0]} {worst[1]:.4f}" if worst else "")
        + f"\nreport: {version.archive.with_name('metrics.md')}"
    )
    answer = input("Approve it and deploy it to the endpoint, which bills every hour it runs? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


HYPERPARAMETERS = (
    "epochs",
    "learning_rate",
    "vector_dim",
    "word_ngrams",
    "min_count",
    "buckets",
    "early_stopping",
    "patience",
    "min_epochs",
)
AWS_TRAINING = ("region", "role_arn", "bucket", "s3_prefix", "training_instance_type")
OWN_DATA = ("test_data", "label_column", "text_column", "min_rows_per_class")  # docs/own-data.md
# What a local training reads: `invoke train` and `invoke up` take the same flags for it.
TRAINING = (
    "data",
    *OWN_DATA,
    *HYPERPARAMETERS,
    "seed",
    "dropout_views",
    "max_rows_per_class",
    "threads",
    "min_accuracy",
    "endpoint_name",
)


@settings_task(
    "target",
    *TRAINING,
    *AWS_TRAINING,
    "instance_type",
    "instance_count",
    "endpoint_mode",
    "serverless_memory_mb",
    "serverless_max_concurrency",
    *ROLLOUT,
    iterable=["ignore_alarm"],
    help={**ROLLOUT_FLAGS, "with_feedback": describe("with_feedback"), **VERBOSE},
)
def train(
    c: Context,
    s: Settings,
    approve: bool = False,
    allow_unapproved: bool = False,
    ignore_alarm: list[str] | None = None,
    with_feedback: bool = False,
    verbose: bool = False,
) -> None:
    """Get the data, train, evaluate, package model.tar.gz, register the version, deploy it past the gate."""
    s = s.replace(with_feedback=True) if with_feedback else s
    with cli_errors():
        s = rollout_settings(s, approve, allow_unapproved, ignore_alarm)
        target = check_first(s, "train")
        review = approval_prompt if sys.stdin.isatty() else None
        outcome = target.train(s, review)
    print(
        f"\nmodel:    {outcome.archive}\nmanifest: {outcome.manifest}\nreport:   {outcome.report}"
        f"\ntest accuracy: {outcome.test_accuracy:.4f}\ntfvars:   {s.tfvars_path}"
    )
    billing = target.billing(s)
    if billing:
        print(billing)


@settings_task(
    "target",
    "data",
    *OWN_DATA,
    "seed",
    "threads",
    *AWS_TRAINING,
    aliases={
        "duration": "tune_duration",
        "max_jobs": "tune_max_jobs",
        "max_parallel_jobs": "tune_max_parallel_jobs",
    },
    help=VERBOSE,
)
def tune(c: Context, s: Settings, verbose: bool = False) -> None:
    """Tune BlazingText hyperparameters on the validation split; the winner goes to hyperparameters.json."""
    with cli_errors():
        result = check_first(s, "tune").tune(s)
    print(f"\n{result.summary}")
    if not result.written:
        print(f"kept the current hyperparameters; {s.hyperparameters_file} unchanged")
        return
    print(f"hyperparameters: {s.hyperparameters_file} (review with `git diff`; `invoke train` uses them)")


@settings_task(
    "data",
    *OWN_DATA,
    "region",
    help={
        "model": "model.tar.gz to evaluate: a path or an s3:// URL (e.g. a SageMaker job's output)",
        **VERBOSE,
    },
)
def evaluate(c: Context, s: Settings, model: str, verbose: bool = False) -> None:
    """Evaluate any model.tar.gz on the prepared test split; reports in build/evaluations/<sha256>/."""
    from ml import pipeline

    with cli_errors():
        if model.startswith("s3://"):
            from ml.aws.pipeline import download_artifact

            result = pipeline.evaluate_artifact(s, download_artifact(s, model), source=model)
        else:
            result = pipeline.evaluate_artifact(s, Path(model))
    print(f"\nmodel:  {result.archive}\nreport: {result.report}\ntest accuracy: {result.test_accuracy:.4f}")


@settings_task(
    "target",
    "endpoint_port",
    "endpoint_workers",
    "endpoint_name",
    "region",
    "bucket",
    "explain_max_words",
    aliases={"batch_size": "classify_batch_size", "workers": "classify_workers", "k": "top_k"},
    help={
        "input": "file of texts: JSON lines {id, text}, CSV with a header, or DBPedia's headerless CSV",
        "output": "where to write one JSON line per text: {id, label, probability, top}",
        "format": "input format: auto (default: by file name and first row), jsonl, csv or dbpedia",
        "text_column": "CSV column / JSON key holding the text (default: text, else title + content)",
        "id_column": "CSV column / JSON key holding the id (default: id, else the row number)",
        "force": "start over: replace an OUTPUT made by another input, model or k",
        "explain": 'add the words behind each answer, as the API\'s "explain": true does (aws: the '
        "endpoint model's version must be in build/model/versions)",
        **VERBOSE,
    },
)
def classify(
    c: Context,
    s: Settings,
    input: str,
    output: str,
    format: str = "auto",
    text_column: str | None = None,
    id_column: str | None = None,
    force: bool = False,
    explain: bool = False,
    verbose: bool = False,
) -> None:
    """Classify a file of texts (CSV or JSON lines) into JSON lines; an interrupted local run resumes."""
    from ml.records import InputSpec
    from ops.targets import select

    out = Path(output)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as cleanly as Ctrl-C
    with cli_errors():
        try:
            spec = InputSpec(format, text_column, id_column)
            summary = select(s).classify(s, Path(input), out, spec, force, explain)
        except KeyboardInterrupt:
            raise Exit(f"\ninterrupted: run the same command again to resume {out}.partial", 130) from None
    if summary.up_to_date:
        print(f"{out} is complete ({summary.total} texts): nothing to do")
    else:
        rate = summary.classified / summary.seconds if summary.seconds else 0.0
        kept = f", {summary.resumed} kept from the interrupted run" if summary.resumed else ""
        print(f"{out}: {summary.total} texts ({summary.classified} classified at {rate:,.0f}/s{kept})")


@settings_task(
    "target",
    "endpoint_name",
    *AWS_TRAINING,
    "instance_type",
    "instance_count",
    "endpoint_mode",
    "transform_instance_type",
    "transform_instance_count",
    aliases={"max_parallel_jobs": "tune_max_parallel_jobs"},
    help={"tune": "also check the quota `invoke tune` needs (its parallel training jobs)", **VERBOSE},
)
def preflight(c: Context, s: Settings, tune: bool = False, verbose: bool = False) -> None:
    """Check what AWS would refuse before anything bills: credentials, region, role, quotas, state, names
    for train, classify, plan and infra (the first deployment's path); --tune adds tuning's quota."""
    from ops.targets import select

    commands = ("train", "classify", "plan", "infra") + (("tune",) if tune else ())
    with cli_errors():
        checked = select(s).check(s, commands)
    if checked:
        print("preflight: every check passed")
    else:
        print("nothing to check for --target local: the preflight checks AWS (--target aws)")


# --- model versions (docs/rollout.md) ---------------------------------------------------------


@settings_task("target", "endpoint_name", "region", help=VERBOSE)
def models(c: Context, s: Settings, verbose: bool = False) -> None:
    """List the model versions: metrics, approval, and which one is live."""
    from ml.tables import markdown_table
    from ops.targets import select

    with cli_errors():
        listed = select(s).list_versions(s)
    rows = [
        (
            v.id,
            v.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if v.created else "",
            f"{v.test_accuracy:.4f}" if v.test_accuracy is not None else "",
            f"{v.macro_f1:.4f}" if v.macro_f1 is not None else "",
            v.approval,
            "live" if v.live else "",
        )
        for v in listed
    ]
    header = ("version", "created (UTC)", "test accuracy", "macro-F1", "approval", "")
    print(markdown_table(header, rows) if rows else "no versions yet: run `invoke train`")


@settings_task(
    "target",
    "endpoint_name",
    "region",
    help={"version": "the version id (or its first 4+ hex digits)", "reject": "reject instead", **VERBOSE},
)
def approve(c: Context, s: Settings, version: str, reject: bool = False, verbose: bool = False) -> None:
    """Approve (or reject) a model version; only approved ones are deployed."""
    from ml.versions import APPROVED, REJECTED
    from ops.targets import select

    with cli_errors():
        print(select(s).approve(s, version, REJECTED if reject else APPROVED))


@settings_task(
    "target",
    "endpoint_name",
    "region",
    "role_arn",
    "instance_type",
    "instance_count",
    "endpoint_mode",
    "serverless_memory_mb",
    "serverless_max_concurrency",
    "bake_seconds",
    "traffic_shift",
    iterable=["ignore_alarm"],
    help={
        "to": "the version to put back (default: the one live before the current one)",
        "allow_unapproved": ROLLOUT_FLAGS["allow_unapproved"],
        "ignore_alarm": ROLLOUT_FLAGS["ignore_alarm"],
        **VERBOSE,
    },
)
def rollback(
    c: Context,
    s: Settings,
    to: str | None = None,
    allow_unapproved: bool = False,
    ignore_alarm: list[str] | None = None,
    verbose: bool = False,
) -> None:
    """Put the previous (or the named) approved version back on the endpoint, without training."""
    from ops.targets import select

    with cli_errors():
        s = rollout_settings(s, False, allow_unapproved, ignore_alarm)
        version = select(s).rollback(s, to)
    print(f"endpoint {s.endpoint_name} serves version {version}")

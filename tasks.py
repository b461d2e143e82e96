"""Tasks: `invoke --list` shows them; `invoke --help TASK` shows every flag.

Every task is a thin shell over plain functions in ``ml/`` and ``ops/``; settings come from
``ml/config.py`` (defaults, then ``DBP_*`` environment variables, then these flags).
"""

from __future__ import annotations

import functools
import inspect
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import invoke
from invoke import Context
from invoke.exceptions import Exit

from ml.config import ROOT, Settings, describe, load_settings, log, setup_logging
from ml.errors import ProjectError


def task(*args: Any, **kwargs: Any) -> Any:
    """``invoke.task`` with the project's one short-flag policy: long flags, plus ``-v`` for ``--verbose``.

    A one-letter parameter (``-k``, ``-x``) is its own short flag; no other short flag is made up.
    """
    return invoke.task(*args, klass=ProjectTask, auto_shortflags=False, **kwargs)


class ProjectTask(invoke.Task):
    """A task whose ``verbose`` flag is also ``-v``."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        """Invoke's options for one argument, with ``-v`` added to ``--verbose``."""
        opts = super().arg_opts(name, default, taken_names)
        if name == "verbose":
            opts["names"] = [*opts["names"], "v"]
        return opts


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the project's expected failures into a one-line message and exit code 1, no traceback."""
    try:
        yield
    except ProjectError as exc:
        raise Exit(f"error: {exc}", code=1) from None
    except OSError as exc:
        raise Exit(
            f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", code=1
        ) from None


def flag(name: str) -> str:
    """How a parameter is typed on the command line: ``-k``, ``--batch-size``."""
    return f"-{name}" if len(name) == 1 else "--" + name.replace("_", "-")


def settings_task(
    *names: str, aliases: Mapping[str, str] | None = None, fixed: Mapping[str, Any] | None = None, **kw: Any
) -> Callable[[Callable[..., None]], Any]:
    """A task whose flags ``names`` (and ``aliases``: flag → setting) come from the settings' declarations.

    The flags' type, bounds, default and help are those of ``ml/config.py``; the body is called as
    ``body(c, settings, **its own parameters)`` with the settings loaded (``fixed`` ones forced), and a bad
    value ends the task with one line naming the flag or variable the user gave.
    """
    to_setting = {**{n: n for n in names}, **(aliases or {})}

    def wrap(body: Callable[..., None]) -> Any:
        own = list(inspect.signature(body).parameters.values())
        context, own = own[0], own[2:]  # (c, s, *own)
        taken = {p.name for p in own}
        extra = [
            inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY, default=None)
            for f in to_setting
            if f not in taken
        ]
        signature = inspect.Signature([context, *own, *extra])

        @functools.wraps(body)
        def run(*args: Any, **kwargs: Any) -> None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
            c = values.pop(context.name)
            overrides = {to_setting[f]: values.pop(f) for f in list(values) if f in to_setting}
            setup_logging(bool(values.get("verbose")))
            flags = {setting: flag(f) for f, setting in to_setting.items()}
            with cli_errors():
                s = load_settings(flags, **overrides, **(fixed or {}))
            body(c, s, **values)

        run.__signature__ = signature  # type: ignore[attr-defined]
        helps = {f: describe(setting) for f, setting in to_setting.items()}
        return task(run, help={**helps, **kw.pop("help", {})}, **kw)

    return wrap


VERBOSE = {"verbose": "debug logging"}


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


def aws_preflight(s: Settings, *commands: str) -> None:
    """Before train, tune, plan or infra on AWS start anything: `invoke preflight`'s checks."""
    if s.target == "aws" and s.preflight:
        from ops.infra import preflight as checks

        checks.run(s, commands)


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


@settings_task(
    "target",
    "data",
    *HYPERPARAMETERS,
    "seed",
    "dropout_views",
    "max_rows_per_class",
    "threads",
    "min_accuracy",
    "endpoint_name",
    *AWS_TRAINING,
    "instance_type",
    "instance_count",
    "endpoint_mode",
    "serverless_memory_mb",
    "serverless_max_concurrency",
    *ROLLOUT,
    iterable=["ignore_alarm"],
    help={**ROLLOUT_FLAGS, **VERBOSE},
)
def train(
    c: Context,
    s: Settings,
    approve: bool = False,
    allow_unapproved: bool = False,
    ignore_alarm: list[str] | None = None,
    verbose: bool = False,
) -> None:
    """Get the data, train, evaluate, package model.tar.gz, register the version, deploy it past the gate."""
    from ml import pipeline
    from ml.aws import pipeline as sagemaker_pipeline

    with cli_errors():
        s = rollout_settings(s, approve, allow_unapproved, ignore_alarm)
        aws_preflight(s, "train")
        review = approval_prompt if sys.stdin.isatty() else None
        outcome = sagemaker_pipeline.run(s, review) if s.target == "aws" else pipeline.run(s)
    print(
        f"\nmodel:    {outcome.archive}\nmanifest: {outcome.manifest}\nreport:   {outcome.report}"
        f"\ntest accuracy: {outcome.test_accuracy:.4f}\ntfvars:   {s.tfvars_path}"
    )
    if s.target == "aws":
        from ml.deploy import EndpointCapacity

        capacity = EndpointCapacity.from_settings(s)
        bills = "per request" if capacity.mode == "serverless" else "every hour it runs"
        print(
            f"endpoint: {s.endpoint_name} ({capacity.describe()}, {s.region}) bills {bills}; "
            "remove it with `invoke destroy --target aws --endpoint`"
        )


@settings_task(
    "target",
    "data",
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
        aws_preflight(s, "tune")
        if s.target == "aws":
            from ml.aws.tune import tune_aws

            found = tune_aws(s)
            print(
                f"\ntuning job: {found.tuning_job}\nbest job:   {found.best_training_job} "
                f"(validation:accuracy {found.objective:.4f})"
            )
        else:
            from ml.tune import tune_local

            result = tune_local(s)
            print(
                f"\nvalidation accuracy: tuned {result.tuned_accuracy:.4f}, "
                f"current {result.current_accuracy:.4f}"
            )
            if not result.written:
                print(f"kept the current hyperparameters; {s.hyperparameters_file} unchanged")
                return
    print(f"hyperparameters: {s.hyperparameters_file} (review with `git diff`; `invoke train` uses them)")


@settings_task(
    "data",
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
    aliases={"batch_size": "classify_batch_size", "workers": "classify_workers", "k": "top_k"},
    help={
        "input": "file of texts: JSON lines {id, text}, CSV with a header, or DBPedia's headerless CSV",
        "output": "where to write one JSON line per text: {id, label, probability, top}",
        "format": "input format: auto (default: by file name and first row), jsonl, csv or dbpedia",
        "text_column": "CSV column / JSON key holding the text (default: text, else title + content)",
        "id_column": "CSV column / JSON key holding the id (default: id, else the row number)",
        "force": "start over: replace an OUTPUT made by another input, model or k",
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
    verbose: bool = False,
) -> None:
    """Classify a file of texts (CSV or JSON lines) into JSON lines; an interrupted local run resumes."""
    from ml.records import InputSpec
    from ops.local.bulk import classify as classify_file

    out = Path(output)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as cleanly as Ctrl-C
    with cli_errors():
        try:
            spec = InputSpec(format, text_column, id_column)
            summary = classify_file(s, Path(input), out, spec, force=force)
        except KeyboardInterrupt:
            raise Exit(f"\ninterrupted: run the same command again to resume {out}.partial", 130) from None
    if summary.up_to_date:
        print(f"{out} is complete ({summary.total} texts): nothing to do")
    else:
        rate = summary.classified / summary.seconds if summary.seconds else 0.0
        kept = f", {summary.resumed} kept from the interrupted run" if summary.resumed else ""
        print(f"{out}: {summary.total} texts ({summary.classified} classified at {rate:,.0f}/s{kept})")


@settings_task(
    "endpoint_port",
    "api_port",
    "site_port",
    "endpoint_workers",
    fixed={"target": "local"},
    help={"verbose": "debug logging (every request)"},
)
def up(c: Context, s: Settings, verbose: bool = False) -> None:
    """Run everything locally (endpoint, API with the real Lambda handler, site); trains first if needed."""
    from ml import pipeline
    from ml.deploy import registered_archive, tokenizer_mismatch
    from ops.local.stack import PortError, server_ports, start_stack

    with cli_errors():
        try:
            server_ports(s)  # the same port for two servers is refused before any training
            archive = registered_archive(s)
            mismatch = tokenizer_mismatch(s)
            if archive is None or not archive.exists() or mismatch:
                log.info("%s: training one first", mismatch or "no model deployed yet")
                pipeline.run(s)
            stack = start_stack(s)
        except PortError as exc:
            raise PortError(f"cannot start the local stack: {exc}") from None
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(
        f"\n  Site:     {stack.site_url}\n  API:      POST {stack.api.url}/classify\n"
        f"  Endpoint: {stack.endpoint.url}/endpoints/{s.endpoint_name}/invocations\n\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print()
    finally:
        stack.close()


@task(
    help={
        "per_class": "rows per class (default 0: every row)",
        "source": "folder with the real rows (default ../shared/data/dbpedia)",
        "seed": "sampling seed (default 42)",
    }
)
def sample(c: Context, per_class: int = 0, source: str = "../shared/data/dbpedia", seed: int = 42) -> None:
    """Maintainers: rebuild the shipped sample data/dbpedia_sample.tar.xz from the real rows."""
    from ml.sample import build_sample

    with cli_errors():
        archive = load_settings().sample_archive
    folder = (ROOT / source).resolve() if not Path(source).is_absolute() else Path(source)
    if not (folder / "train.csv").is_file():
        raise Exit(f"error: {folder} has no train.csv", code=1)
    n = build_sample(folder, archive, per_class, seed)
    print(f"wrote {archive} ({n} rows, {archive.stat().st_size:,} bytes)")


@settings_task(
    "data",
    fixed={"target": "local"},
    help={
        "smoke": "tiny load and a small 3-epoch model: checks the benchmark runs, measures nothing",
        "out": "where to write the Markdown report, its JSON beside it (default BENCHMARKS.md; "
        "with --smoke build/bench-smoke/BENCHMARKS.md)",
        **VERBOSE,
    },
)
def bench(
    c: Context, s: Settings, smoke: bool = False, out: str = "BENCHMARKS.md", verbose: bool = False
) -> None:
    """Benchmark model quality and serving speed side by side; write BENCHMARKS.md (+ JSON)."""
    from ops.bench.measure import BenchPlan, run

    plan = BenchPlan.smoke_plan() if smoke else BenchPlan()
    if smoke and out == "BENCHMARKS.md":  # a smoke run measures nothing: keep it away from the real report
        out = str(s.build_dir / "bench-smoke" / "BENCHMARKS.md")
    command = (
        "invoke bench" + (f" --data {s.data}" if s.data != "auto" else "") + (" --smoke" if smoke else "")
    )
    with cli_errors():
        run(s, plan, ROOT / out, command)
    print(f"benchmarks: {ROOT / out}\nraw figures: {(ROOT / out).with_suffix('.json')}")


@settings_task(
    "data",
    fixed={"target": "local"},
    iterable=["variant"],
    help={
        "variant": "settings to compare with the current ones, as comma-separated name=value pairs, e.g. "
        "dropout_views=10,epochs=15 (repeat the flag for more variants)",
        "seeds": "comma-separated fastText seeds each variant trains with (default 42,1,2)",
        "baseline": "also fit the TF-IDF + LinearSVC baseline, on the train rows (as the evaluation report "
        "does) and on each variant's train channel",
        "out": "where to write the Markdown table, its JSON beside it (default build/sweep/sweep.md)",
        **VERBOSE,
    },
)
def sweep(
    c: Context,
    s: Settings,
    variant: list[str],
    seeds: str = "42,1,2",
    baseline: bool = False,
    out: str | None = None,
    verbose: bool = False,
) -> None:
    """Compare training settings over several seeds on validation and test (docs/model-quality.md)."""
    from ops.bench import sweep as sweeps
    from ops.bench.measure import choose_data

    with cli_errors():
        variants = [sweeps.parse_variant(v) for v in variant]
        seed_list = sweeps.parse_seeds(seeds)
        base = {"data": s.data if s.data != "auto" else choose_data(s)}
        target = ROOT / out if out else s.build_dir / "sweep" / "sweep.md"
        for v in variants:  # a typo fails now, not after an hour of training
            load_settings(None, **{**base, **v.overrides})
        sweeps.run(base, variants, seed_list, baseline, target)
    print(target.read_text(encoding="utf-8"))
    print(f"sweep: {target}\nraw figures: {target.with_suffix('.json')}")


@settings_task(
    "data",
    fixed={"target": "local"},
    help={"out": "where to write the table (default build/unknown-text/unknown-text.md)", **VERBOSE},
)
def unknown_text(c: Context, s: Settings, out: str | None = None, verbose: bool = False) -> None:
    """Measure which texts the Lambda would refuse, by topical and common words (docs/unknown-text.md)."""
    from ops.bench import unknown_text as measurement

    target = ROOT / out if out else s.build_dir / "unknown-text" / "unknown-text.md"
    with cli_errors():
        measurement.run(s, target)
    print(target.read_text(encoding="utf-8"))


@task(help={"fix": "let ruff fix and format what it can"})
def lint(c: Context, fix: bool = False) -> None:
    """Check style, layers and types: ruff, import contracts (.importlinter), mypy, terraform fmt."""
    python = f"'{sys.executable}'"
    if fix:
        c.run(f"{python} -m ruff check --fix . && {python} -m ruff format .", pty=False)
    c.run(f"{python} -m ruff check . && {python} -m ruff format --check .", pty=False)
    lint_imports = Path(sys.executable).with_name("lint-imports")
    c.run(f"'{lint_imports}' --no-cache", env={"PYTHONPATH": str(ROOT)}, pty=False)
    c.run(f"{python} -m mypy", pty=False)
    if c.run("command -v terraform", hide=True, warn=True).ok:
        c.run(
            "terraform -chdir=terraform fmt -check -recursive",
            env={"TF_CLI_CONFIG_FILE": "/dev/null"},
            pty=False,
        )


@task(
    help={
        "k": "only tests matching this expression (pytest -k)",
        "x": "stop at the first failure",
        "workers": "test processes (pytest-xdist); 'auto' is one per core, 0 runs in this process",
    }
)
def test(c: Context, k: str = "", x: bool = False, workers: str = "auto") -> None:
    """Run the linters, then the whole test suite (a module's tests share one worker and its fixtures)."""
    lint(c)
    args = [sys.executable, "-m", "pytest", "-n", workers, "--durations=25"]
    args += ["--dist", "loadgroup"] if workers != "0" else []  # groups: tests/conftest.py
    args += (["-k", k] if k else []) + (["-x"] if x else [])
    c.run(" ".join(f"'{a}'" for a in args), pty=False)


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
    help=VERBOSE,
)
def preflight(c: Context, s: Settings, verbose: bool = False) -> None:
    """Check what AWS would refuse before anything bills: credentials, region, role, quotas, state, names."""
    from ops.infra import preflight as checks

    if s.target != "aws":
        print("nothing to check for --target local: the preflight checks AWS (--target aws)")
        return
    with cli_errors():
        checks.run(s, ("train", "tune", "classify", "plan", "infra"))
    print("preflight: every check passed")


# --- model versions (docs/rollout.md) ---------------------------------------------------------


@settings_task("target", "endpoint_name", "region", help=VERBOSE)
def models(c: Context, s: Settings, verbose: bool = False) -> None:
    """List the model versions: metrics, approval, and which one is live."""
    from ml import pipeline, rollout
    from ml.deploy import live_entry
    from ml.tables import markdown_table

    with cli_errors():
        if s.target == "aws":
            from ml.aws.pipeline import list_packages

            found, live = list_packages(s)
            package_rows = [
                (
                    p.version,
                    p.metadata.get("test_accuracy", ""),
                    p.metadata.get("test_macro_f1", ""),
                    p.status,
                    "live" if p.version == live else "",
                )
                for p in found
            ]
            print(markdown_table(("version", "test accuracy", "macro-F1", "approval", ""), package_rows))
            return
        live_id = (live_entry(s) or {}).get("version")
        rows = rollout.models_table(rollout.versions(pipeline.versions_dir(s)), live_id)
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
    from ml import pipeline, rollout

    status = rollout.REJECTED if reject else rollout.APPROVED
    with cli_errors():
        if s.target == "local":
            found = rollout.find(pipeline.versions_dir(s), version)
            rollout.set_approval(found, status)
            print(f"version {found.id}: {status}")
        else:
            from ml.aws.pipeline import approve as approve_package

            package = approve_package(s, version, status)
            print(f"model package {package.arn}: {package.status}")


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
    from ml import pipeline

    with cli_errors():
        s = rollout_settings(s, False, allow_unapproved, ignore_alarm)
        if s.target == "aws":
            from ml.aws.pipeline import rollback as rollback_aws

            version = rollback_aws(s, to).version
        else:
            version = pipeline.rollback_local(s, to).id
    print(f"endpoint {s.endpoint_name} serves version {version}")


# --- infrastructure (terraform) ---------------------------------------------------------------

STACK = (
    "target",
    "max_instances",
    "target_invocations_per_instance",
    "scale_in_cooldown",
    "scale_out_cooldown",
    "alarm_email",
    "requests_per_month",
    "waf_rate_limit",
    "waf_common_rules",
    "domain_name",
    "hosted_zone_id",
)


@settings_task(
    *STACK, help={"plan_file": "apply exactly this saved, reviewed plan (from `invoke plan`)", **VERBOSE}
)
def infra(c: Context, s: Settings, plan_file: str = "", verbose: bool = False) -> None:
    """Create or update the Lambda, API, site, autoscaling and alarms with Terraform; print the outputs."""
    from ops.infra import stack as infra_ops

    with cli_errors():
        aws_preflight(s, "infra")
        result = infra_ops.apply(s, plan_file=ROOT / plan_file if plan_file else None)
    if result.has_changes:
        print(f"Applied: {result.added} added, {result.changed} changed, {result.destroyed} destroyed.")
    else:
        print("No changes: the stack already matches the configuration.")
    width = max(map(len, result.outputs), default=0)
    for name, value in sorted(result.outputs.items()):
        print(f"  {name:<{width}}  {value}")


@settings_task(*STACK, help=VERBOSE)
def plan(c: Context, s: Settings, verbose: bool = False) -> None:
    """Plan without applying: build/tfplan, its JSON and build/tfplan.md (changes, cost) for the PR."""
    from ops.infra import stack as infra_ops

    with cli_errors():
        aws_preflight(s, "plan")
        report = infra_ops.plan(s)
    print(report.markdown_path.read_text(encoding="utf-8"))
    print(f"plan: {report.plan_path}\njson: {report.json_path}\nsummary: {report.markdown_path}")
    with cli_errors():
        infra_ops.require_policy(report)


@settings_task(
    "target",
    "bucket",
    "s3_prefix",
    help={
        "endpoint": "also delete the SageMaker endpoint with its endpoint config and model (aws)",
        "all_": "aws: the endpoint too, and the model packages and their group, everything under the "
        "bucket's s3_prefix, and a 14-day retention on SageMaker's log groups",
        "yes": "remove without asking",
        "dry_run": "only list what would be removed",
        **VERBOSE,
    },
)
def destroy(
    c: Context,
    s: Settings,
    endpoint: bool = False,
    all_: bool = False,
    yes: bool = False,
    dry_run: bool = False,
    verbose: bool = False,
) -> None:
    """Remove the stack (and with --endpoint the SageMaker endpoint; --all everything) so nothing bills."""
    from ops.infra import stack as infra_ops

    with cli_errors():
        report = infra_ops.destroy(s, endpoint=endpoint, everything=all_, dry_run=dry_run, yes=yes)
    if report.removed:
        print(f"Removed {len(report.listed)} resources.")


@settings_task(
    "target",
    "site_port",
    aliases={"url": "smoke_url", "api_url": "smoke_api_url", "bucket_url": "smoke_bucket_url"},
    help=VERBOSE,
)
def smoke(c: Context, s: Settings, verbose: bool = False) -> None:
    """Check a running stack from outside: HTTPS, security headers, /classify, API and bucket closed."""
    from ops.local import smoke as checks

    with cli_errors():
        site, api, bucket = s.smoke_url, s.smoke_api_url, s.smoke_bucket_url
        if not site and s.target == "aws":
            from ops.infra.outputs import deployed_urls

            deployed = deployed_urls(s)
            site, api, bucket = deployed.site_url, api or deployed.api_url, bucket or deployed.bucket_url
        targets = checks.Targets.given(site or f"http://{s.host}:{s.site_port}/", api, bucket)
        results = checks.run(targets)
    for result in results:
        print(result.line())
    failed = sum(result.failed for result in results)
    if failed:
        raise Exit(f"smoke: {failed} of {len(results)} checks failed at {targets.site_url}", code=1)
    print(f"smoke: no check failed at {targets.site_url}")


# --- mutation testing (not CI) ----------------------------------------------------------------


@task(
    help={
        "only": "one scope (tokenizer, handler, endpoint, bulk, fsutil); repeat for more; default: all",
        "workers": "mutants tested at once (default 1: the machine is shared)",
    },
    iterable=["only"],
)
def mutate(c: Context, only: list[str] | None = None, workers: int = 1) -> None:
    """Mutation-test the input parsing and file-keeping code (./dev mutate installs the tool first)."""
    from ops.bench import mutation

    with cli_errors():
        report = mutation.run(list(only or []), workers)
    print(report.read_text(encoding="utf-8"))
    print(f"report: {report}\nlogs: {report.parent}")


# --- the first real deployment, rehearsed (docs/first-deploy.md) -----------------------------------


@settings_task(
    "data",
    help={
        "workdir": "where the clones, logs and artifacts go (default build/rehearsal; a folder of an earlier "
        "rehearsal is replaced, any other non-empty one refused)",
        "rows_per_class": "rows a class the ML engineer's training uses (0: every row; default 100 keeps the "
        "rehearsal to minutes)",
        **VERBOSE,
    },
)
def rehearse(
    c: Context, s: Settings, workdir: str = "", rows_per_class: int = 100, verbose: bool = False
) -> None:
    """Rehearse a first AWS deployment on the emulator, IAM enforced, each step as its principal."""
    from ops.rehearsal.rehearse import rehearse as run

    folder = Path(workdir).resolve() if workdir else s.build_dir / "rehearsal"
    with cli_errors():
        result = run(folder, s.data, rows_per_class)
    print(f"\nrehearsal passed: {len(result.lines)} steps in {result.seconds:.0f} s; logs in {folder}")

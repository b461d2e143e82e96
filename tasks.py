"""Tasks: `invoke --list` shows them; `invoke --help TASK` shows every flag.

Every task is a thin shell over plain functions in ``ml/`` and ``ops/``; settings come from
``ml/config.py`` (defaults, then ``DBP_*`` environment variables, then these flags).
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from invoke import Context, task
from invoke.exceptions import Exit

from ml.config import ROOT, ConfigError, Settings, load_settings, log, setup_logging


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the project's expected failures into a one-line message and exit code 1, no traceback."""
    from ml.data import DataError
    from ml.package import ArtifactError
    from ml.pipeline import TrainError
    from ml.sagemaker_train import SageMakerError

    try:
        yield
    except (ConfigError, DataError, ArtifactError, TrainError, SageMakerError) as exc:
        raise Exit(f"error: {exc}", code=1) from None
    except OSError as exc:
        raise Exit(
            f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", code=1
        ) from None


def settings(verbose: bool = False, **overrides: Any) -> Settings:
    """Logging set up, settings loaded; a bad value ends the task with a clear message."""
    setup_logging(verbose)
    with cli_errors():
        return load_settings(**overrides)


TRAIN_HELP = {
    "target": "where to train and deploy: local (default; fastText + local endpoint) or aws",
    "data": "dataset: auto (default), sample, full (download, resumable, md5-checked), "
    "or a path to an archive or folder",
    "epochs": "BlazingText epochs (default: hyperparameters.json; shipped 10)",
    "learning_rate": "BlazingText learning_rate (default: hyperparameters.json; shipped 0.3)",
    "vector_dim": "BlazingText vector_dim (default: hyperparameters.json; shipped 20)",
    "word_ngrams": "BlazingText word_ngrams (default: hyperparameters.json; shipped 2)",
    "min_count": "BlazingText min_count (default: hyperparameters.json; shipped 2)",
    "buckets": "BlazingText buckets for word n-gram hashing (default: hyperparameters.json; shipped 1000000)",
    "early_stopping": "true/false: stop when validation accuracy stops improving (default false)",
    "patience": "early stopping: fits without improvement before stopping (default 4)",
    "min_epochs": "early stopping: epochs before the first check (default 5)",
    "seed": "seed for splits and training (default 42)",
    "dropout_views": "train channel: copies of each train row missing a random half of its tokens "
    "(default 20; 0 turns them off; docs/model-quality.md)",
    "threads": "training and tokenizing threads (default: all cores)",
    "min_accuracy": "fail when test accuracy is below this, 0..1 (default 0)",
    "endpoint_name": "endpoint name (default dbpedia-classifier)",
    "region": "AWS region (default us-east-1)",
    "role_arn": "aws: the SageMaker execution role ARN (required for aws; or DBP_ROLE_ARN)",
    "bucket": "aws: S3 bucket for channels and job outputs (default sagemaker-<region>-<account id>)",
    "s3_prefix": "aws: key prefix in the bucket (default dbpedia-classifier)",
    "training_instance_type": "aws: training instance type (default ml.c5.xlarge)",
    "instance_type": "aws: endpoint instance type (default ml.t2.medium)",
    "instance_count": "aws: endpoint instance count, and the autoscaling floor (default 1)",
    "endpoint_mode": "aws: instance (default; autoscaled by `invoke infra`) or serverless",
    "serverless_memory_mb": "aws, serverless: 1024, 2048 (default) ... 6144",
    "serverless_max_concurrency": "aws, serverless: concurrent requests, 1..200 (default 5)",
    "verbose": "debug logging",
}


@task(help=TRAIN_HELP, auto_shortflags=False)
def train(
    c: Context,
    target: str | None = None,
    data: str | None = None,
    epochs: str | None = None,
    learning_rate: str | None = None,
    vector_dim: str | None = None,
    word_ngrams: str | None = None,
    min_count: str | None = None,
    buckets: str | None = None,
    early_stopping: str | None = None,
    patience: str | None = None,
    min_epochs: str | None = None,
    seed: str | None = None,
    dropout_views: str | None = None,
    threads: str | None = None,
    min_accuracy: str | None = None,
    endpoint_name: str | None = None,
    region: str | None = None,
    role_arn: str | None = None,
    bucket: str | None = None,
    s3_prefix: str | None = None,
    training_instance_type: str | None = None,
    instance_type: str | None = None,
    instance_count: str | None = None,
    endpoint_mode: str | None = None,
    serverless_memory_mb: str | None = None,
    serverless_max_concurrency: str | None = None,
    verbose: bool = False,
) -> None:
    """Get the data, train, evaluate, package model.tar.gz and deploy it to an endpoint."""
    s = settings(
        verbose,
        target=target,
        data=data,
        epochs=epochs,
        learning_rate=learning_rate,
        vector_dim=vector_dim,
        word_ngrams=word_ngrams,
        min_count=min_count,
        buckets=buckets,
        early_stopping=early_stopping,
        patience=patience,
        min_epochs=min_epochs,
        seed=seed,
        dropout_views=dropout_views,
        threads=threads,
        min_accuracy=min_accuracy,
        endpoint_name=endpoint_name,
        region=region,
        role_arn=role_arn,
        bucket=bucket,
        s3_prefix=s3_prefix,
        training_instance_type=training_instance_type,
        instance_type=instance_type,
        instance_count=instance_count,
        endpoint_mode=endpoint_mode,
        serverless_memory_mb=serverless_memory_mb,
        serverless_max_concurrency=serverless_max_concurrency,
    )
    from ml import pipeline, sagemaker_pipeline

    with cli_errors():
        outcome = sagemaker_pipeline.run(s) if s.target == "aws" else pipeline.run(s)
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


TUNE_HELP = {
    "target": "local (default): fastText autotune; aws: SageMaker automatic model tuning",
    "duration": "local: seconds of fastText autotune (default 300)",
    "max_jobs": "aws: training jobs of the tuning job in total (default 20)",
    "max_parallel_jobs": "aws: training jobs at once (default 2)",
    **{k: TRAIN_HELP[k] for k in ("data", "seed", "threads", "region", "role_arn", "bucket", "s3_prefix")},
    "training_instance_type": TRAIN_HELP["training_instance_type"],
    "verbose": "debug logging",
}


@task(help=TUNE_HELP, auto_shortflags=False)
def tune(
    c: Context,
    target: str | None = None,
    duration: str | None = None,
    max_jobs: str | None = None,
    max_parallel_jobs: str | None = None,
    data: str | None = None,
    seed: str | None = None,
    threads: str | None = None,
    region: str | None = None,
    role_arn: str | None = None,
    bucket: str | None = None,
    s3_prefix: str | None = None,
    training_instance_type: str | None = None,
    verbose: bool = False,
) -> None:
    """Tune BlazingText hyperparameters on the validation split; the winner goes to hyperparameters.json."""
    s = settings(
        verbose,
        target=target,
        tune_duration=duration,
        tune_max_jobs=max_jobs,
        tune_max_parallel_jobs=max_parallel_jobs,
        data=data,
        seed=seed,
        threads=threads,
        region=region,
        role_arn=role_arn,
        bucket=bucket,
        s3_prefix=s3_prefix,
        training_instance_type=training_instance_type,
    )
    with cli_errors():
        if s.target == "aws":
            from ml.sagemaker_tune import tune_aws

            found = tune_aws(s)
            print(
                f"\ntuning job: {found.tuning_job}\nbest job:   {found.best_training_job} "
                f"(validation:accuracy {found.objective:.4f})"
            )
        else:
            from ml.tune import TuneError, tune_local

            try:
                result = tune_local(s)
            except TuneError as exc:
                raise Exit(f"error: {exc}", code=1) from None
            print(
                f"\nvalidation accuracy: tuned {result.tuned_accuracy:.4f}, "
                f"current {result.current_accuracy:.4f}"
            )
            if not result.written:
                print(f"kept the current hyperparameters; {s.hyperparameters_file} unchanged")
                return
    print(f"hyperparameters: {s.hyperparameters_file} (review with `git diff`; `invoke train` uses them)")


@task(
    help={
        "model": "model.tar.gz to evaluate: a path or an s3:// URL (e.g. a SageMaker job's output)",
        "data": "dataset whose test split to use: auto (default), sample, full, or a path",
        "region": "AWS region for s3:// URLs (default us-east-1)",
        "verbose": "debug logging",
    }
)
def evaluate(
    c: Context, model: str, data: str | None = None, region: str | None = None, verbose: bool = False
) -> None:
    """Evaluate any model.tar.gz on the prepared test split; reports in build/evaluations/<sha256>/."""
    s = settings(verbose, data=data, region=region)
    from ml import pipeline

    with cli_errors():
        if model.startswith("s3://"):
            from ml.sagemaker_pipeline import download_artifact

            result = pipeline.evaluate_artifact(s, download_artifact(s, model), source=model)
        else:
            result = pipeline.evaluate_artifact(s, Path(model))
    print(f"\nmodel:  {result.archive}\nreport: {result.report}\ntest accuracy: {result.test_accuracy:.4f}")


@task(
    help={
        "input": "file of texts: JSON lines {id, text}, CSV with a header, or DBPedia's headerless CSV",
        "output": "where to write one JSON line per text: {id, label, probability, top}",
        "target": "local (default: the local endpoint, batched requests) or aws (a SageMaker Batch Transform "
        "job on the deployed model)",
        "format": "input format: auto (default: by file name and first row), jsonl, csv or dbpedia",
        "text_column": "CSV column / JSON key holding the text (default: text, else title + content)",
        "id_column": "CSV column / JSON key holding the id (default: id, else the row number)",
        "batch_size": "local: texts per endpoint request, 1..1000 (default 100)",
        "workers": "local: concurrent requests (default 4)",
        "k": "labels per text in top, 1..14 (default 3)",
        "endpoint_port": "local: port of the running local endpoint (default 8080; started in-process "
        "for the run when nothing answers there)",
        "endpoint_workers": "local: processes of the endpoint started for the run (default 1)",
        "endpoint_name": "endpoint name (default dbpedia-classifier)",
        "region": "aws: AWS region (default us-east-1)",
        "bucket": "aws: S3 bucket for the job's input and output (default sagemaker-<region>-<account id>)",
        "force": "start over: replace an OUTPUT made by another input, model or k",
        "verbose": "debug logging",
    },
    auto_shortflags=False,
)
def classify(
    c: Context,
    input: str,
    output: str,
    target: str | None = None,
    format: str = "auto",
    text_column: str | None = None,
    id_column: str | None = None,
    batch_size: str | None = None,
    workers: str | None = None,
    k: str | None = None,
    endpoint_port: str | None = None,
    endpoint_workers: str | None = None,
    endpoint_name: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
    force: bool = False,
    verbose: bool = False,
) -> None:
    """Classify a file of texts (CSV or JSON lines) into JSON lines; an interrupted local run resumes."""
    s = settings(
        verbose,
        target=target,
        classify_batch_size=batch_size,
        classify_workers=workers,
        top_k=k,
        endpoint_port=endpoint_port,
        endpoint_workers=endpoint_workers,
        endpoint_name=endpoint_name,
        region=region,
        bucket=bucket,
    )
    from ml.records import ClassifyError, InputSpec
    from ops.bulk import classify as classify_file

    out = Path(output)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as cleanly as Ctrl-C
    with cli_errors():
        try:
            spec = InputSpec(format, text_column, id_column)
            summary = classify_file(s, Path(input), out, spec, force=force)
        except ClassifyError as exc:
            raise Exit(f"error: {exc}", code=1) from None
        except KeyboardInterrupt:
            raise Exit(f"\ninterrupted: run the same command again to resume {out}.partial", 130) from None
    if summary.up_to_date:
        print(f"{out} is complete ({summary.total} texts): nothing to do")
    else:
        rate = summary.classified / summary.seconds if summary.seconds else 0.0
        kept = f", {summary.resumed} kept from the interrupted run" if summary.resumed else ""
        print(f"{out}: {summary.total} texts ({summary.classified} classified at {rate:,.0f}/s{kept})")


UP_HELP = {
    "endpoint_port": "local endpoint port (default 8080)",
    "api_port": "local API port (default 3000)",
    "site_port": "site port (default 8000)",
    "endpoint_workers": "endpoint processes sharing its port, one core each (default 1)",
    "verbose": "debug logging (every request)",
}


@task(help=UP_HELP)
def up(
    c: Context,
    endpoint_port: str | None = None,
    api_port: str | None = None,
    site_port: str | None = None,
    endpoint_workers: str | None = None,
    verbose: bool = False,
) -> None:
    """Run everything locally (endpoint, API with the real Lambda handler, site); trains first if needed."""
    s = settings(
        verbose,
        endpoint_port=endpoint_port,
        api_port=api_port,
        site_port=site_port,
        endpoint_workers=endpoint_workers,
        target="local",
    )
    from ml import pipeline
    from ml.deploy import registered_archive, tokenizer_mismatch
    from ml.serve import WorkerError
    from ops.stack import PortError, server_ports, start_stack

    with cli_errors():
        try:
            server_ports(s)  # the same port for two servers is refused before any training
            archive = registered_archive(s)
            mismatch = tokenizer_mismatch(s)
            if archive is None or not archive.exists() or mismatch:
                log.info("%s: training one first", mismatch or "no model deployed yet")
                pipeline.run(s)
            stack = start_stack(s)
        except WorkerError as exc:
            raise Exit(f"error: {exc}; try fewer --endpoint-workers", code=1) from None
        except PortError as exc:
            raise Exit(f"error: cannot start the local stack: {exc}", code=1) from None
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
        "per_class": "rows per class (default 1000)",
        "source": "folder with the real rows",
        "seed": "sampling seed (default 42)",
    }
)
def sample(c: Context, per_class: int = 1000, source: str = "../shared/data/dbpedia", seed: int = 42) -> None:
    """Maintainers: rebuild the shipped sample data/dbpedia_sample.tar.xz from the real rows."""
    s = settings()
    from ml.sample import build_sample

    folder = (ROOT / source).resolve() if not Path(source).is_absolute() else Path(source)
    if not (folder / "train.csv").exists():
        raise Exit(f"error: {folder} has no train.csv", code=1)
    n = build_sample(folder, s.sample_archive, per_class, seed)
    print(f"wrote {s.sample_archive} ({n} rows, {s.sample_archive.stat().st_size:,} bytes)")


@task(
    help={
        "data": "dataset for the quality figures (default: the full archive if downloaded, else the shared "
        "real rows beside the repo, else the shipped sample)",
        "smoke": "tiny load and a 2-epoch model: checks the benchmark runs, measures nothing",
        "out": "where to write the Markdown report, its JSON beside it (default BENCHMARKS.md; "
        "with --smoke build/bench-smoke/BENCHMARKS.md)",
        "verbose": "debug logging",
    }
)
def bench(
    c: Context,
    data: str | None = None,
    smoke: bool = False,
    out: str = "BENCHMARKS.md",
    verbose: bool = False,
) -> None:
    """Benchmark model quality and serving speed side by side; write BENCHMARKS.md (+ JSON)."""
    s = settings(verbose, data=data, target="local")
    from ops.bench import BenchPlan, run

    plan = BenchPlan.smoke_plan() if smoke else BenchPlan()
    if smoke and out == "BENCHMARKS.md":  # a smoke run measures nothing: keep it away from the real report
        out = str(s.build_dir / "bench-smoke" / "BENCHMARKS.md")
    command = "invoke bench" + (f" --data {data}" if data else "") + (" --smoke" if smoke else "")
    with cli_errors():
        run(s, plan, ROOT / out, command)
    print(f"benchmarks: {ROOT / out}\nraw figures: {(ROOT / out).with_suffix('.json')}")


@task(
    iterable=["variant"],
    help={
        "variant": "settings to compare with the current ones, as comma-separated name=value pairs, e.g. "
        "dropout_views=10,epochs=15 (repeat the flag for more variants)",
        "data": "dataset (default: the shared real rows beside the repo if present, else as invoke train)",
        "seeds": "comma-separated fastText seeds each variant trains with (default 42,1,2)",
        "baseline": "also fit the TF-IDF + LinearSVC baseline, on the train rows (as the evaluation report "
        "does) and on each variant's train channel",
        "out": "where to write the Markdown table, its JSON beside it (default build/sweep/sweep.md)",
        "verbose": "debug logging",
    },
)
def sweep(
    c: Context,
    variant: list[str],
    data: str | None = None,
    seeds: str = "42,1,2",
    baseline: bool = False,
    out: str | None = None,
    verbose: bool = False,
) -> None:
    """Compare training settings over several seeds on validation and test (docs/model-quality.md)."""
    s = settings(verbose, data=data, target="local")
    from ops import sweep as sweeps
    from ops.bench import choose_data

    with cli_errors():
        variants = [sweeps.parse_variant(v) for v in variant]
        seed_list = sweeps.parse_seeds(seeds)
        base = {"data": data or choose_data(s)}
        target = ROOT / out if out else s.build_dir / "sweep" / "sweep.md"
        for v in variants:  # a typo fails now, not after an hour of training
            load_settings(**{**base, **v.overrides})
        sweeps.run(base, variants, seed_list, baseline, target)
    print(target.read_text(encoding="utf-8"))
    print(f"sweep: {target}\nraw figures: {target.with_suffix('.json')}")


@task(help={"fix": "let ruff fix and format what it can"})
def lint(c: Context, fix: bool = False) -> None:
    """Check style: ruff lint + format check (and terraform fmt when terraform is installed)."""
    ruff = f"'{sys.executable}' -m ruff"
    if fix:
        c.run(f"{ruff} check --fix . && {ruff} format .", pty=False)
    c.run(f"{ruff} check . && {ruff} format --check .", pty=False)
    if c.run("command -v terraform", hide=True, warn=True).ok:
        c.run(
            "terraform -chdir=terraform fmt -check -recursive",
            env={"TF_CLI_CONFIG_FILE": "/dev/null"},
            pty=False,
        )


@task(help={"k": "only tests matching this expression (pytest -k)", "x": "stop at the first failure"})
def test(c: Context, k: str = "", x: bool = False) -> None:
    """Run the linters, then the whole test suite."""
    lint(c)
    args = [sys.executable, "-m", "pytest"] + (["-k", k] if k else []) + (["-x"] if x else [])
    c.run(" ".join(f"'{a}'" for a in args), pty=False)


# --- infrastructure (terraform) ---------------------------------------------------------------


@contextmanager
def infra_errors() -> Iterator[None]:
    """The infrastructure's expected failures as a one-line message and exit code 1."""
    from ops.infra import InfraError
    from ops.moto_server import MotoServerError
    from ops.terraform import TerraformError

    with cli_errors():
        try:
            yield
        except (InfraError, MotoServerError, TerraformError) as exc:
            raise Exit(f"error: {exc}", code=1) from None


TARGET_HELP = "local (a moto_server the task starts and stops) or aws; default: DBP_TARGET, else local"
STACK_HELP = {
    "target": TARGET_HELP,
    "max_instances": "autoscaling ceiling of an instance-backed endpoint (default 2; floor: instance count)",
    "target_invocations_per_instance": "autoscaling target, invocations per instance a minute (default 600)",
    "scale_in_cooldown": "seconds between scale-ins (default 300)",
    "scale_out_cooldown": "seconds between scale-outs (default 60)",
    "alarm_email": "e-mail address subscribed to the alarm topic (default: none)",
    "requests_per_month": "traffic the plan's cost estimate assumes (default 1000000)",
    "verbose": "debug logging",
}


def stack_flags(params: dict[str, Any]) -> dict[str, Any]:
    """The setting overrides among a stack task's parameters (all but the context and ``verbose``)."""
    return {name: value for name, value in params.items() if name in STACK_HELP and name != "verbose"}


@task(help=STACK_HELP, auto_shortflags=False)
def infra(
    c: Context,
    target: str | None = None,
    max_instances: str | None = None,
    target_invocations_per_instance: str | None = None,
    scale_in_cooldown: str | None = None,
    scale_out_cooldown: str | None = None,
    alarm_email: str | None = None,
    requests_per_month: str | None = None,
    verbose: bool = False,
) -> None:
    """Create or update the Lambda, API, site, autoscaling and alarms with Terraform; print the outputs."""
    s = settings(verbose, **stack_flags(locals()))
    from ops import infra as infra_ops

    with infra_errors():
        result = infra_ops.apply(s)
    if result.has_changes:
        print(f"Applied: {result.added} added, {result.changed} changed, {result.destroyed} destroyed.")
    else:
        print("No changes: the stack already matches the configuration.")
    width = max(map(len, result.outputs), default=0)
    for name, value in sorted(result.outputs.items()):
        print(f"  {name:<{width}}  {value}")


@task(help=STACK_HELP, auto_shortflags=False)
def plan(
    c: Context,
    target: str | None = None,
    max_instances: str | None = None,
    target_invocations_per_instance: str | None = None,
    scale_in_cooldown: str | None = None,
    scale_out_cooldown: str | None = None,
    alarm_email: str | None = None,
    requests_per_month: str | None = None,
    verbose: bool = False,
) -> None:
    """Plan without applying: build/tfplan, its JSON and build/tfplan.md (changes, cost) for the PR."""
    s = settings(verbose, **stack_flags(locals()))
    from ops import infra as infra_ops

    with infra_errors():
        report = infra_ops.plan(s)
    print(report.markdown_path.read_text(encoding="utf-8"))
    print(f"plan: {report.plan_path}\njson: {report.json_path}\nsummary: {report.markdown_path}")


@task(
    help={
        "target": "local (clears the local working copy; moto keeps nothing between runs) or aws; "
        "default: DBP_TARGET, else local",
        "endpoint": "also delete the SageMaker endpoint with its endpoint config and model (aws)",
        "yes": "remove without asking",
        "dry_run": "only list what would be removed",
        "verbose": "debug logging",
    }
)
def destroy(
    c: Context,
    target: str | None = None,
    endpoint: bool = False,
    yes: bool = False,
    dry_run: bool = False,
    verbose: bool = False,
) -> None:
    """Remove the stack (and with --endpoint the SageMaker endpoint) so nothing keeps billing."""
    s = settings(verbose, target=target)
    from ops import infra as infra_ops

    with infra_errors():
        report = infra_ops.destroy(s, endpoint=endpoint, dry_run=dry_run, yes=yes)
    if report.removed:
        print(f"Removed {len(report.listed)} resources.")


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
    from ops import mutation

    try:
        report = mutation.run(list(only or []), workers)
    except mutation.MutationError as exc:
        raise Exit(f"error: {exc}", code=1) from None
    print(report.read_text(encoding="utf-8"))
    print(f"report: {report}\nlogs: {report.parent}")

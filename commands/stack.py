"""The whole service: `invoke up` on this machine; the AWS stack with Terraform (infra, plan, destroy) and
its checks from outside (smoke); the first deployment, rehearsed on the emulator (rehearse).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from invoke import Context
from invoke.exceptions import Exit

from commands.cli import VERBOSE, check_first, cli_errors, describe, settings_task
from commands.model import TRAINING
from ml.config import ROOT, log
from ops.rehearsal import ROWS_PER_CLASS
from ops.settings import Settings


@settings_task(
    *TRAINING,
    "endpoint_port",
    "api_port",
    "site_port",
    "endpoint_workers",
    "api_workers",
    fixed={"target": "local"},
    help={"verbose": "debug logging (every request)", "feedback": describe("feedback")},
)
def up(c: Context, s: Settings, feedback: bool = True, verbose: bool = False) -> None:
    """Run everything locally (endpoint, API with the real Lambda handler, site); trains first if needed,
    or on the data --data names (your own: docs/own-data.md), with train's flags. Visitors' feedback goes
    to an emulated S3 (moto) and build/feedback/ (`invoke feedback`)."""
    from ml import pipeline
    from ml.deploy import registered_archive, tokenizer_mismatch
    from ops.infra.moto_server import MotoServer
    from ops.local.stack import PortError, server_ports, start_stack

    s = s if feedback else s.replace(feedback=False)
    emulator = MotoServer()
    with cli_errors():
        try:
            server_ports(s)  # the same port for two servers is refused before any training
            archive = registered_archive(s)
            mismatch = tokenizer_mismatch(s)
            if s.data != "auto":  # data named: train on it (a version of the same training is reused)
                log.info("training on %s first", s.data)
                pipeline.run(s)
            elif archive is None or not archive.exists() or mismatch:
                log.info("%s: training one first", mismatch or "no model deployed yet")
                pipeline.run(s)
            stack = start_stack(s, feedback_s3=emulator.start().url if s.feedback else "")
        except PortError as exc:
            emulator.stop()
            raise PortError(f"cannot start the local stack: {exc}") from None
        except BaseException:
            emulator.stop()
            raise
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
        emulator.stop()


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
    "feedback",
    "feedback_retention_days",
)


@settings_task(
    *STACK, help={"plan_file": "apply exactly this saved, reviewed plan (from `invoke plan`)", **VERBOSE}
)
def infra(c: Context, s: Settings, plan_file: str = "", verbose: bool = False) -> None:
    """Create or update the Lambda, API, site, autoscaling and alarms with Terraform; print the outputs."""
    with cli_errors():
        result = check_first(s, "infra").apply(s, ROOT / plan_file if plan_file else None)
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
    from ops.infra import plan as infra_ops

    with cli_errors():
        report = check_first(s, "plan").plan(s)
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
    from ops.targets import select

    with cli_errors():
        report = select(s).destroy(s, endpoint, all_, dry_run, yes)
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
    from ops.targets import select

    with cli_errors():
        site, api, bucket = s.smoke_url, s.smoke_api_url, s.smoke_bucket_url
        if not site:
            found = select(s).site_urls(s)
            site, api, bucket = found.site, api or found.api, bucket or found.bucket
        targets = checks.Targets.given(site, api, bucket)
        results = checks.run(targets)
    for result in results:
        print(result.line())
    failed = sum(result.failed for result in results)
    if failed:
        raise Exit(f"smoke: {failed} of {len(results)} checks failed at {targets.site_url}", code=1)
    print(f"smoke: no check failed at {targets.site_url}")


# --- the first real deployment, rehearsed (docs/first-deploy.md) -----------------------------------


@settings_task(
    "data",
    help={
        "workdir": "where the clones, logs and artifacts go (default build/rehearsal; a folder of an earlier "
        "rehearsal is replaced, any other non-empty one refused)",
        "rows_per_class": "rows a class the ML engineer's training uses (0: every row; the default "
        f"{ROWS_PER_CLASS} keeps the rehearsal to minutes and is the fewest that fits the non-topic rule)",
        **VERBOSE,
    },
)
def rehearse(
    c: Context, s: Settings, workdir: str = "", rows_per_class: int = ROWS_PER_CLASS, verbose: bool = False
) -> None:
    """Rehearse a first AWS deployment on the emulator, IAM enforced, each step as its principal."""
    from ops.rehearsal.rehearse import rehearse as run

    folder = Path(workdir).resolve() if workdir else s.build_dir / "rehearsal"
    with cli_errors():
        result = run(folder, s.data, rows_per_class)
    print(f"\nrehearsal passed: {len(result.lines)} steps in {result.seconds:.0f} s; logs in {folder}")

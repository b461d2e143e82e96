"""Model versions (docs/model-versions.md): a training run killed at any step, or rejected, never loses the
deployed model; the next run removes what a killed one left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ml import deploy, pipeline, preprocess, versions
from ml.config import ROOT
from ml.fsutil import file_digest
from ml.pipeline import TrainError, run
from ml.predict import Predictor
from ops.local.endpoint import start_endpoint
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON, clean_env, make_settings, run_invoke, table_rows

SMALL = {"epochs": 2, "vector_dim": 10, "buckets": 100_000, "dropout_views": 0}  # a quick, real model

# A real `pipeline.run` in its own process that SIGKILLs itself at a named step: a stage function is
# replaced by one that kills the process (or that writes the temporary file of an atomic write and then
# kills it), so the kill lands at the step whatever the timing.
_CHILD = """
import json, os, signal, sys
import fasttext
from ml import evaluate, fsutil, pipeline, preprocess
from ml import deploy
from ops.settings import load_settings

def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def die_mid_write(target, _data):
    with fsutil.atomic_path(target) as tmp:
        tmp.write_text("{", encoding="utf-8")
        die()

step, overrides = sys.argv[1], json.loads(sys.argv[2])
if step == "preparing":
    preprocess.train_lines = die
elif step == "training":
    fasttext.train_supervised = die
elif step == "packaged":
    pipeline.evaluate_model = die
elif step == "evaluating":
    evaluate.plot_confusion = die  # metrics.json and metrics.md are written, the plot is not
elif step == "manifest":
    pipeline.write_json = die_mid_write
elif step == "switch":
    deploy.write_json = die_mid_write  # the registry: the first file the deploy writes
pipeline.run(load_settings(**overrides))
"""
STEPS = ("preparing", "training", "packaged", "evaluating", "manifest", "switch")


def _killed_run(settings: Settings, step: str, overrides: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    paths = {"build_dir": str(settings.build_dir), "terraform_dir": str(settings.terraform_dir)}
    return subprocess.run(
        [sys.executable, "-c", _CHILD, step, json.dumps({**paths, **overrides})],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _leftovers(settings: Settings) -> set[Path]:
    """Temporary entries anywhere in the build folder, and version folders without a manifest."""
    hidden = set(settings.build_dir.rglob(".*"))
    versions = settings.model_dir / "versions"
    return hidden | {p for p in versions.glob("*/") if not (p / "manifest.json").exists()}


def _files(folder: Path) -> dict[str, str]:
    return {p.name: file_digest(p) for p in folder.iterdir()}


def _served_label(archive: Path, cache: Path) -> str:
    """The top label a real local endpoint serving ``archive`` gives the Walter Johnson text."""
    server = start_endpoint(Predictor.from_archive(archive, cache), "dbpedia-classifier")
    try:
        body = json.dumps({"instances": [" ".join(preprocess.tokenize(WALTER_JOHNSON))]}).encode()
        request = urllib.request.Request(
            server.url + "/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.load(response)[0]["label"][0])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small real model, trained and deployed to the local endpoint of its own build folder."""
    settings = make_settings(tmp_path_factory.mktemp("versions"), **SMALL)
    run(settings)
    return settings


def _assert_still_deployed(settings: Settings, archive: Path, files: dict[str, str], cache: Path) -> None:
    assert deploy.registered_archive(settings) == archive
    manifest_path = deploy.registered_manifest(settings)
    assert manifest_path is not None
    assert file_digest(archive) == json.loads(manifest_path.read_text())["model"]["sha256"]
    assert _files(archive.parent) == files, "the deployed version folder changed"
    assert _served_label(archive, cache) == "__label__Athlete"


def test_a_run_killed_at_any_step_leaves_the_deployed_model_intact_and_served(
    deployed: Settings, tmp_path: Path
) -> None:
    """GIVEN a deployed small model WHEN a second run with other settings is SIGKILLed at each step in turn
    THEN the registry still names the first archive, whose bytes match its manifest and which a real
    endpoint serves; each killed run first removed what the previous one left; the next run trains
    afresh, and a version finished before the kill is reused and switched to."""
    settings, root = deployed, deployed.build_dir.parent
    first = deploy.registered_archive(settings)
    assert first is not None
    files = _files(first.parent)
    previous: set[Path] = set()
    killed: dict[str, dict[str, Any]] = {}
    for number, step in enumerate(STEPS):
        killed[step] = {**SMALL, "epochs": 3 + number}
        if step == "preparing":  # other prepared data: its folder is being written
            killed[step]["dropout_views"] = 1
        proc = _killed_run(settings, step, killed[step])
        assert proc.returncode == -signal.SIGKILL, f"{step}: {proc.stderr[-3000:]}"
        _assert_still_deployed(settings, first, files, tmp_path / "cache")
        left = _leftovers(settings)
        assert left, f"the run killed at {step!r} left nothing: the kill did not land mid-step"
        assert not left & previous, f"the run killed at {step!r} did not remove {sorted(left & previous)}"
        previous = left
    # WHEN the settings killed during evaluation run again THEN they train afresh and are deployed
    again = run(make_settings(root, **killed["evaluating"]))
    assert not again.reused and again.archive != first
    assert deploy.registered_archive(settings) == again.archive
    manifest = json.loads(again.manifest.read_text())
    assert manifest["hyperparameters"]["epochs"] == str(killed["evaluating"]["epochs"])
    assert file_digest(again.archive) == manifest["model"]["sha256"]
    assert _leftovers(settings) == set()
    # AND the run killed just before the switch had finished its version: it is reused and switched to
    switched = run(make_settings(root, **killed["switch"]))
    assert switched.reused and deploy.registered_archive(settings) == switched.archive
    assert json.loads(switched.manifest.read_text())["hyperparameters"]["epochs"] == str(
        killed["switch"]["epochs"]
    )
    # AND the first version is still there, untouched, for a later switch back
    assert _files(first.parent) == files


def test_a_model_below_min_accuracy_is_kept_but_not_deployed(deployed: Settings, tmp_path: Path) -> None:
    """GIVEN a deployed model WHEN a retrained one misses min_accuracy THEN the run fails with one line,
    the deployed model stays deployed and intact, and the rejected version keeps its report."""
    settings = deployed
    archive = deploy.registered_archive(settings)
    assert archive is not None
    files = _files(archive.parent)
    before = set((settings.model_dir / "versions").glob("*"))
    rejected = make_settings(settings.build_dir.parent, **{**SMALL, "epochs": 9}, min_accuracy=0.999)
    with pytest.raises(TrainError, match=r"below min_accuracy 0\.999; see .*/versions/\w{16}/metrics\.md"):
        run(rejected)
    _assert_still_deployed(settings, archive, files, tmp_path / "cache")
    (new,) = set((settings.model_dir / "versions").glob("*")) - before
    assert sorted(p.name for p in new.iterdir()) == [
        "confusion_matrix.png",
        "manifest.json",
        "metrics.json",
        "metrics.md",
        "model.tar.gz",
        "model_card.html",  # its card, as a page, JSON and Markdown (issue 27)
        "model_card.json",
        "model_card.md",
        "vocabulary.txt.gz",
    ]


def test_approval_the_quality_gate_and_rollback_without_training(deployed: Settings) -> None:
    """GIVEN the deployed versions WHEN a pending, an approved and a worse version are trained under the
    strict (AWS) approval rule, then rolled back THEN only approved versions not worse than the live one
    go live, each refusal is one line naming its figures, and a rollback walks back the history."""
    settings, root = deployed, deployed.build_dir.parent
    strict = {"allow_unapproved": False}
    live = pipeline.live_version(settings)
    assert live is not None and live.status == versions.PENDING  # local default: pending, still deployed
    before = {v.id for v in versions.versions(versions.versions_dir(settings))}
    # WHEN a new version is trained, pending  THEN it is registered but refused, the live one stays
    candidate = make_settings(root, **{**SMALL, "epochs": 11}, **strict)
    with pytest.raises(
        versions.GateError, match=r"is PendingManualApproval: approve it with `invoke approve"
    ):
        run(candidate)
    (new_id,) = {v.id for v in versions.versions(versions.versions_dir(settings))} - before
    assert deploy.registered_archive(settings) == live.archive
    # WHEN it is approved and trained again THEN it is reused (not trained) and goes live; history grows
    versions.set_approval(versions.find(versions.versions_dir(settings), new_id), versions.APPROVED)
    outcome = run(candidate)
    assert outcome.reused and outcome.archive.parent.name == new_id
    history = (deploy.live_entry(settings) or {})["history"]
    assert history[-1] == live.id
    approved = versions.find(versions.versions_dir(settings), new_id)
    # WHEN a much worse model is trained with --approve  THEN the gate names both accuracies
    worse = make_settings(
        root, **{**SMALL, "epochs": 1, "vector_dim": 2, "learning_rate": 0.01}, approve=True, **strict
    )
    with pytest.raises(versions.GateError) as refused:
        run(worse)
    assert f"the live version {new_id} {approved.test_accuracy:.4f} on the same test split" in str(
        refused.value
    )
    bad = [v for v in versions.versions(versions.versions_dir(settings)) if v.id not in before | {new_id}]
    assert len(bad) == 1 and bad[0].status == versions.APPROVED
    assert f"has test accuracy {bad[0].test_accuracy:.4f}" in str(refused.value)
    assert deploy.registered_archive(settings) == approved.archive
    # AND a live version measured on an unrecorded split is re-evaluated on today's: the same figure here
    unrecorded = replace(approved, manifest={**approved.manifest, "data": {}})
    prepared = pipeline.prepare_data(worse)[1]
    with pytest.raises(versions.GateError, match=f"{approved.test_accuracy:.4f} on the same test split"):
        pipeline.gate(worse, bad[0], prepared, unrecorded)
    # WHEN rolled back under the strict rule  THEN the pending previous version is refused
    with pytest.raises(versions.GateError, match="no earlier approved version"):
        pipeline.rollback(make_settings(root, **strict))
    # AND once approved it goes back live without training, and the history is popped back to it
    versions.set_approval(live, versions.APPROVED)
    assert pipeline.rollback(make_settings(root, **strict)) == live.id
    entry = deploy.live_entry(settings) or {}
    assert (entry["version"], entry["history"]) == (live.id, history[:-1])
    assert deploy.registered_archive(settings) == live.archive
    # AND the command line lists the versions and names a wrong one in one line, exit 1
    env = clean_env(DBP_BUILD_DIR=str(settings.build_dir), DBP_TERRAFORM_DIR=str(settings.terraform_dir))
    listed = run_invoke(env, "models")
    assert listed.returncode == 0, listed.stderr
    rows = {row[0]: row for row in table_rows(listed.stdout)[2:]}
    assert rows[live.id][4].startswith("Approved") and rows[live.id][5] == "live"
    assert rows[bad[0].id][2] == f"{bad[0].test_accuracy:.4f}" and rows[bad[0].id][5] == ""
    wrong = run_invoke(env, "rollback", "--to", "zzzz")
    assert wrong.returncode == 1 and wrong.stderr.strip().startswith("error: 'zzzz' names no version")
    assert len(wrong.stderr.strip().splitlines()) == 1
    again = run_invoke(env, "rollback", "--to", new_id[:6])
    assert again.returncode == 0 and f"serves version {new_id}" in again.stdout
    assert deploy.registered_archive(settings) == approved.archive

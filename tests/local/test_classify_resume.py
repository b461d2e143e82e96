"""Bulk classification, target local: an interrupted run resumes, a finished output is kept or refused
by what made it (input, model, k), and the model is the one the answering endpoint names. Real model, real
endpoint on 127.0.0.1; an interruption is KeyboardInterrupt from the per-batch hook, as Ctrl-C between two
batches; another deployed model is a registry entry with another sha256 (the test endpoint keeps
answering): what classify records and compares is the registry's checksum."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ml.deploy import live_entry
from ml.fsutil import write_json
from ml.predict import Predictor
from ml.records import ClassifyError, InputSpec
from ml.results import Provenance, is_complete, read_key
from ops.infra.moto_server import free_port
from ops.local.bulk import classify
from ops.local.endpoint import EndpointServer, start_endpoint
from ops.settings import Settings

from .bulk_inputs import NOVEL, deploy_other_model, many, read_lines, write_jsonl


def interrupt_after(n: int) -> Any:
    def hook(batches: int) -> None:
        if batches == n:
            raise KeyboardInterrupt

    return hook


def test_interrupted_run_resumes_where_it_stopped(settings: Settings, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", many(60))
    reference = tmp_path / "reference.jsonl"
    classify(settings, source, reference, InputSpec())
    # GIVEN a run stopped after 3 batches of 7 texts (Ctrl-C)
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        classify(settings, source, out, InputSpec(), on_batch=interrupt_after(3))
    partial = tmp_path / "out.jsonl.partial"
    assert not out.exists() and [line["id"] for line in read_lines(partial)] == [
        f"doc-{i}" for i in range(21)
    ]
    # WHEN it runs again THEN only the other 39 are classified, and the result is the uninterrupted one
    batches: list[int] = []
    summary = classify(settings, source, out, InputSpec(), on_batch=batches.append)
    assert (summary.classified, summary.resumed) == (39, 21) and len(batches) == 6
    assert out.read_bytes() == reference.read_bytes()
    assert not partial.exists() and not (tmp_path / "out.jsonl.partial.key").exists()


def test_a_cut_last_line_is_dropped_and_redone(settings: Settings, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", many(30))
    reference = tmp_path / "reference.jsonl"
    classify(settings, source, reference, InputSpec())
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        classify(settings, source, out, InputSpec(), on_batch=interrupt_after(2))
    # GIVEN a crash in the middle of writing line 15
    partial = tmp_path / "out.jsonl.partial"
    with partial.open("a", encoding="utf-8") as fh:
        fh.write('{"id": "doc-14", "label": "Ath')
    summary = classify(settings, source, out, InputSpec())
    assert (summary.classified, summary.resumed) == (16, 14)
    assert out.read_bytes() == reference.read_bytes()


def test_a_partial_file_of_another_input_is_not_resumed(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = write_jsonl(tmp_path / "first.jsonl", many(20))
    with pytest.raises(KeyboardInterrupt):
        classify(settings, first, out, InputSpec(), on_batch=interrupt_after(1))
    # GIVEN other texts under the same ids WHEN classified into the same output THEN nothing is kept
    other = [{"id": item["id"], "text": NOVEL} for item in many(20)]
    summary = classify(settings, write_jsonl(tmp_path / "other.jsonl", other), out, InputSpec())
    assert (summary.classified, summary.resumed) == (20, 0)
    assert {line["label"] for line in read_lines(out)} == {"WrittenWork"}


def test_a_second_run_changes_nothing_and_calls_no_endpoint(settings: Settings, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", many(10))
    out = tmp_path / "out.jsonl"
    classify(settings, source, out, InputSpec())
    before = (out.read_bytes(), os.stat(out).st_mtime_ns)
    # nothing listens on this port and the deployed archive (same checksum) is gone: a call would fail
    offline = settings.replace(endpoint_port=free_port(), build_dir=tmp_path / "offline")
    entry = live_entry(settings) or {}
    gone = {**entry, "model_archive": str(tmp_path / "gone.tar.gz")}
    write_json(offline.endpoint_registry, {settings.endpoint_name: gone})
    summary = classify(offline, source, out, InputSpec())
    assert summary.up_to_date and summary.classified == 0
    assert (out.read_bytes(), os.stat(out).st_mtime_ns) == before


def test_a_finished_output_of_other_texts_or_k_is_refused_and_force_replaces_it(
    settings: Settings, tmp_path: Path
) -> None:
    # GIVEN out.jsonl finished from a.jsonl with top 3
    first = write_jsonl(tmp_path / "a.jsonl", many(8))
    out = tmp_path / "out.jsonl"
    classify(settings, first, out, InputSpec())
    finished = out.read_bytes()
    # WHEN b.jsonl (the same ids, other texts) or a.jsonl with -k 5 is classified into it
    # THEN it is refused with the way out, and out.jsonl is untouched
    second = write_jsonl(tmp_path / "b.jsonl", [{**item, "text": NOVEL} for item in many(8)])
    for source, run, differs in [(second, settings, "input"), (first, settings.replace(top_k=5), "k")]:
        with pytest.raises(ClassifyError) as info:
            classify(run, source, out, InputSpec())
        message = str(info.value)
        assert f"{out} exists" in message and f"made with another {differs}" in message
        assert "--force" in message and "delete it" in message and "\n" not in message
        assert out.read_bytes() == finished
    # a text column named explicitly reads the same file another way: refused as well
    with pytest.raises(ClassifyError, match="made with another --text-column"):
        classify(settings, first, out, InputSpec(text_column="text"))
    # WHEN forced THEN every text is classified again, with k 5, and a plain second run has nothing to do
    five = settings.replace(top_k=5)
    summary = classify(five, first, out, InputSpec(), force=True)
    assert (summary.classified, summary.up_to_date) == (8, False)
    assert all(len(line["top"]) == 5 for line in read_lines(out))
    assert classify(five, first, out, InputSpec()).up_to_date
    assert first.read_bytes() == write_jsonl(tmp_path / "again.jsonl", many(8)).read_bytes()


def test_an_output_without_its_key_or_changed_since_is_refused(settings: Settings, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", many(5))
    out = tmp_path / "out.jsonl"
    classify(settings, source, out, InputSpec())
    # GIVEN the finished output edited afterwards THEN it is no longer trusted
    out.write_bytes(out.read_bytes().replace(b'"doc-4"', b'"doc-9"'))
    with pytest.raises(ClassifyError, match=r"changed after it was written.*--force"):
        classify(settings, source, out, InputSpec())
    # GIVEN an output nothing recorded (another tool, an older version) THEN refused too
    (tmp_path / "out.jsonl.key").unlink()
    with pytest.raises(ClassifyError, match=r"no out.jsonl.key says what made it.*--force"):
        classify(settings, source, out, InputSpec())


@contextmanager
def serving_as(endpoint: EndpointServer, sha256: str) -> Iterator[EndpointServer]:
    """Another running endpoint on the same model.bin that names another archive on ``GET /ping``."""
    other = start_endpoint(Predictor(endpoint.predictor.model_bin, sha256), "dbpedia-classifier")
    try:
        yield other
    finally:
        other.shutdown()
        other.server_close()


def test_the_model_is_the_one_the_answering_endpoint_names(
    settings: Settings, endpoint: EndpointServer, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", many(20))
    out = tmp_path / "out.jsonl"
    classify(settings, source, out, InputSpec())
    # GIVEN the running endpoint WHEN it answered THEN the key names the archive it serves (GET /ping)
    assert read_key(out)["model"] == endpoint.predictor.archive_sha256 != ""
    # GIVEN another endpoint (another model) answering at the same settings' port THEN the output is refused
    with serving_as(endpoint, "f" * 64) as other:
        elsewhere = settings.replace(endpoint_port=other.server_address[1])
        with pytest.raises(ClassifyError, match="made with another model"):
            classify(elsewhere, source, out, InputSpec())
    # GIVEN a run stopped under one endpoint and resumed under another THEN no line of the first is kept
    partial = tmp_path / "other.jsonl"
    with pytest.raises(KeyboardInterrupt):
        classify(settings, source, partial, InputSpec(), on_batch=interrupt_after(1))
    with serving_as(endpoint, "e" * 64) as other:
        summary = classify(
            settings.replace(endpoint_port=other.server_address[1]), source, partial, InputSpec()
        )
    assert (summary.classified, summary.resumed) == (20, 0)
    assert read_key(partial)["model"] == "e" * 64


def test_without_a_running_endpoint_the_model_is_the_deployed_one(settings: Settings, tmp_path: Path) -> None:
    offline = settings.replace(endpoint_port=free_port())
    source = write_jsonl(tmp_path / "in.jsonl", many(5))
    classify(offline, source, tmp_path / "out.jsonl", InputSpec())
    deployed = (live_entry(settings) or {})["sha256"]
    assert read_key(tmp_path / "out.jsonl")["model"] == deployed
    deploy_other_model(offline)
    with pytest.raises(ClassifyError, match="made with another model"):
        classify(offline, source, tmp_path / "out.jsonl", InputSpec())


def test_is_complete_only_for_this_input_model_and_k(settings: Settings, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", many(6))
    out = tmp_path / "out.jsonl"
    classify(settings, source, out, InputSpec())
    key = read_key(out)
    assert key is not None
    made = Provenance(**{name: value for name, value in key.items() if name != "output_sha256"})
    assert is_complete(out, made)
    # another input, another model, another k, another reading of the input: not complete
    for change in [{"input_sha256": "0" * 64}, {"model": "f" * 64}, {"k": 2}, {"format": "csv"}]:
        assert not is_complete(out, replace(made, **change))
    # a shorter output, or other ids, under the same key: not complete
    finished = out.read_text(encoding="utf-8")
    for text in [finished[: finished.rindex("{")], finished.replace('"doc-0"', '"doc-x"')]:
        out.write_text(text, encoding="utf-8")
        assert not is_complete(out, made)
    # no key, or no output: not complete
    out.write_text(finished, encoding="utf-8")
    assert is_complete(out, made)
    (tmp_path / "out.jsonl.key").unlink()
    assert not is_complete(out, made)
    assert not is_complete(tmp_path / "missing.jsonl", made)

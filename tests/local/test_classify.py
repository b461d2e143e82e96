"""Bulk classification, target local: real model, real endpoint on 127.0.0.1, boto3 runtime client.

Inputs are written by the tests (JSON lines, CSV with a header, DBPedia's headerless CSV). An interrupted run
is made by raising KeyboardInterrupt from the per-batch hook, as Ctrl-C would between two batches. Another
deployed model is a registry entry with another sha256 (the test endpoint keeps answering): what classify
records and compares is the registry's checksum.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ml.deploy import live_entry, register_local
from ml.fsutil import write_json
from ml.pipeline import TrainOutcome
from ml.predict import Predictor
from ml.records import ClassifyError, InputSpec, read_input
from ml.results import Provenance, is_complete, read_key
from ops.infra.moto_server import free_port
from ops.local.bulk import MAX_BODY_BYTES, classify, invoke, runtime_client, worker_count
from ops.local.endpoint import EndpointServer, start_endpoint
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON, make_settings, run_invoke

DANUBE = "The Danube is the second-longest river in Europe, flowing through Vienna and Budapest."
NOVEL = "Pride and Prejudice is an 1813 novel of manners written by Jane Austen."
ALBUM = "Abbey Road is the eleventh studio album by the English rock band the Beatles, released in 1969."
TEXTS = [WALTER_JOHNSON, DANUBE, NOVEL, ALBUM]


@pytest.fixture
def settings(trained: tuple[Settings, TrainOutcome], tmp_path: Path, endpoint: EndpointServer) -> Settings:
    """Settings that find the running test endpoint (as `invoke classify` finds the one `invoke up` runs).

    The model it serves is deployed in the settings' build dir, as `invoke up` serves the deployed one.
    """
    settings = make_settings(tmp_path, endpoint_port=endpoint.server_address[1], classify_batch_size=7)
    register_local(settings, trained[1].archive)
    return settings


def deploy_other_model(settings: Settings, sha256: str = "f" * 64) -> None:
    """Record another model as deployed (another checksum in the registry)."""
    entry = live_entry(settings)
    write_json(settings.endpoint_registry, {settings.endpoint_name: {**(entry or {}), "sha256": sha256}})


def write_jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def many(n: int) -> list[dict[str, Any]]:
    """``n`` distinct records with string ids."""
    return [{"id": f"doc-{i}", "text": f"{TEXTS[i % len(TEXTS)]} Item {i}."} for i in range(n)]


def test_jsonl_gives_one_line_per_text_in_input_order(settings: Settings, tmp_path: Path) -> None:
    # GIVEN JSON lines with string and integer ids, and one text without a word
    items = [{"id": "wj", "text": WALTER_JOHNSON}, {"id": 7, "text": DANUBE}, {"id": "x", "text": "?!"}]
    source = write_jsonl(tmp_path / "in.jsonl", items)
    # WHEN classified
    summary = classify(settings, source, tmp_path / "out.jsonl", InputSpec())
    # THEN each line carries the id, the best label and probability, and the top 3, in input order
    lines = read_lines(tmp_path / "out.jsonl")
    assert [line["id"] for line in lines] == ["wj", 7, "x"]
    assert [line["label"] for line in lines[:2]] == ["Athlete", "NaturalPlace"]
    for line in lines[:2]:
        assert len(line["top"]) == 3 and line["top"][0] == {
            "label": line["label"],
            "probability": line["probability"],
        }
        probabilities = [t["probability"] for t in line["top"]]
        assert probabilities == sorted(probabilities, reverse=True) and 0 < probabilities[0] <= 1
    assert lines[2] == {"id": "x", "label": None, "probability": None, "top": [], "error": lines[2]["error"]}
    assert "no words" in lines[2]["error"]
    assert (summary.total, summary.classified, summary.resumed, summary.up_to_date) == (3, 3, 0, False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "in.jsonl", "out.jsonl", "out.jsonl.key"]


def test_csv_title_and_content_are_joined_as_training_joins_them(settings: Settings, tmp_path: Path) -> None:
    # GIVEN the same texts as a CSV with id,title,content columns and as JSON lines of "title content"
    rows = [("a1", "Walter Johnson", WALTER_JOHNSON), ("a2", "Danube", DANUBE), ("a3", "Abbey Road", ALBUM)]
    with (tmp_path / "in.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "content"])
        writer.writerows(rows)
    joined = [{"id": i, "text": f"{title} {content}"} for i, title, content in rows]
    write_jsonl(tmp_path / "in.jsonl", joined)
    # WHEN both are classified THEN the outputs are identical
    classify(settings, tmp_path / "in.csv", tmp_path / "csv.jsonl", InputSpec())
    classify(settings, tmp_path / "in.jsonl", tmp_path / "jsonl.jsonl", InputSpec())
    assert read_lines(tmp_path / "csv.jsonl") == read_lines(tmp_path / "jsonl.jsonl")
    assert [line["label"] for line in read_lines(tmp_path / "csv.jsonl")] == [
        "Athlete",
        "NaturalPlace",
        "Album",
    ]


def test_csv_named_text_column_and_row_numbers(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text(f'lang,body\nen,"{WALTER_JOHNSON}"\nen,"{NOVEL}"\n', encoding="utf-8")
    classify(settings, tmp_path / "in.csv", tmp_path / "out.jsonl", InputSpec(text_column="body"))
    lines = read_lines(tmp_path / "out.jsonl")
    assert [(line["id"], line["label"]) for line in lines] == [(1, "Athlete"), (2, "WrittenWork")]


def test_dbpedia_csv_is_detected_and_numbered(settings: Settings, tmp_path: Path) -> None:
    # GIVEN DBPedia's own headerless class,"title","content" rows
    source = tmp_path / "test.csv"
    with source.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC).writerows(
            [[4, "Walter Johnson", f" {WALTER_JOHNSON}"], [14, "Pride and Prejudice", f" {NOVEL}"]]
        )
    assert read_input(source, InputSpec()) == read_input(source, InputSpec(format="dbpedia"))
    classify(settings, source, tmp_path / "out.jsonl", InputSpec())
    lines = read_lines(tmp_path / "out.jsonl")
    assert [(line["id"], line["label"]) for line in lines] == [(1, "Athlete"), (2, "WrittenWork")]


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


def _same_file_cases(tmp_path: Path, source: Path) -> list[Path]:
    """Other names of ``source``: another spelling, a symbolic link and a hard link."""
    (tmp_path / "sub").mkdir()
    os.symlink(source, tmp_path / "link.jsonl")
    os.link(source, tmp_path / "hard.jsonl")
    return [source, tmp_path / "sub" / ".." / source.name, tmp_path / "link.jsonl", tmp_path / "hard.jsonl"]


def test_an_output_that_is_the_input_is_refused_before_anything_is_written(
    settings: Settings, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "keep.jsonl", many(5))
    kept = source.read_bytes()
    for output in _same_file_cases(tmp_path, source):
        for force in (False, True):
            with pytest.raises(ClassifyError, match=r"is the input file .*: name another output file"):
                classify(settings, source, output, InputSpec(), force=force)
    assert source.read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "build",
        "hard.jsonl",
        "keep.jsonl",
        "link.jsonl",
        "sub",
    ]


def test_an_input_named_like_the_outputs_partial_file_is_not_deleted(
    settings: Settings, tmp_path: Path
) -> None:
    # GIVEN the input is out.jsonl.partial (or its key): classify writes both beside out.jsonl
    for name in ("out.jsonl.partial", "out.jsonl.key", "out.jsonl.partial.key"):
        source = write_jsonl(tmp_path / name, many(5))
        kept = source.read_bytes()
        with pytest.raises(ClassifyError, match=f"{name} is the input file .*classify writes {name} beside"):
            classify(settings, source, tmp_path / "out.jsonl", InputSpec(), force=True)
        assert source.read_bytes() == kept and not (tmp_path / "out.jsonl").exists()
        source.unlink()


def test_directories_are_named_as_such(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "texts").mkdir()
    source = write_jsonl(tmp_path / "in.jsonl", many(5))
    with pytest.raises(ClassifyError, match=r"input .*texts is a directory, not a file"):
        classify(settings, tmp_path / "texts", tmp_path / "out.jsonl", InputSpec())
    # an output that is a directory is refused before the run: nothing is classified or written
    calls: list[int] = []
    with pytest.raises(ClassifyError, match=r"output .*texts is a directory: name a file"):
        classify(settings, source, tmp_path / "texts", InputSpec(), on_batch=calls.append, force=True)
    assert calls == [] and sorted(p.name for p in tmp_path.iterdir()) == ["build", "in.jsonl", "texts"]
    with pytest.raises(ClassifyError, match=r"in.jsonl is a file, not a directory"):
        classify(settings, source, source / "out.jsonl", InputSpec())


def test_without_a_running_endpoint_the_deployed_model_is_served_in_process(
    trained: tuple[Settings, TrainOutcome], settings: Settings, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", many(12))
    classify(settings, source, tmp_path / "running.jsonl", InputSpec())
    # GIVEN nothing answers on the configured port, but a model is deployed locally
    alone = trained[0].replace(endpoint_port=free_port(), classify_batch_size=5)
    classify(alone, source, tmp_path / "alone.jsonl", InputSpec())
    assert (tmp_path / "alone.jsonl").read_bytes() == (tmp_path / "running.jsonl").read_bytes()


def test_a_batch_over_the_payload_limit_is_sent_in_halves(
    settings: Settings, endpoint: EndpointServer
) -> None:
    # GIVEN two token strings that fit one request each, but not together
    big = ("baseball " * (MAX_BODY_BYTES // 9 // 2 + 1000)).strip()
    client = runtime_client(endpoint.url, settings)
    answer = invoke(client, settings.endpoint_name, [big, big + " river"], 2)
    assert len(answer) == 2 and answer[0]["label"][0] == "__label__Athlete"


def test_the_batch_transform_input_is_answered_by_the_local_endpoint_as_aws_joins_it(
    settings: Settings, endpoint: EndpointServer, tmp_path: Path
) -> None:
    """The JSON lines `invoke classify --target aws` uploads, sent to the local endpoint instead of a job."""
    import boto3

    from ml.aws.transform import CONTENT_TYPE, join_output, request_body
    from ml.records import read_input

    # GIVEN texts (one without a word) and the very body a Batch Transform job would read
    source = write_jsonl(tmp_path / "in.jsonl", [*many(9), {"id": "none", "text": "?!"}])
    records = read_input(source, InputSpec())
    body, sent = request_body(records, settings.top_k)
    # WHEN the local endpoint answers it, through the runtime API, and the answer is joined as aws joins it
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    response = runtime.invoke_endpoint(
        EndpointName=settings.endpoint_name, ContentType=CONTENT_TYPE, Accept=CONTENT_TYPE, Body=body
    )
    out = tmp_path / "input.jsonl.out"
    out.write_bytes(response["Body"].read())
    joined = join_output(records, sent, out)
    # THEN the lines equal what the local bulk path writes for the same input
    classify(settings, source, tmp_path / "local.jsonl", InputSpec())
    assert joined == read_lines(tmp_path / "local.jsonl") and len(joined) == 10
    assert joined[-1]["label"] is None and joined[0]["label"] == "Athlete"


@pytest.mark.parametrize(
    ("name", "content", "spec", "message"),
    [
        ("missing.jsonl", None, InputSpec(), "does not exist"),
        (
            "bad.jsonl",
            '{"id": 1, "text": "a"}\n{"id": 2, "text": \n',
            InputSpec(),
            "bad.jsonl:2: not valid JSON",
        ),
        ("list.jsonl", '["a"]\n', InputSpec(), "list.jsonl:1: expected an object"),
        ("notext.jsonl", '{"id": 1, "body": "a"}\n', InputSpec(), "no 'text' string"),
        (
            "dup.jsonl",
            '{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n',
            InputSpec(),
            "the id 1 appears twice",
        ),
        ("noid.jsonl", '{"text": "a"}\n', InputSpec(id_column="key"), "no 'key' key"),
        ("nocol.csv", "name,lang\na,en\n", InputSpec(), "has no text column (columns: name, lang)"),
        ("named.csv", "text\na\n", InputSpec(text_column="body"), "has no column 'body'"),
        ("short.csv", "id,title,content\n1,a\n", InputSpec(), "short.csv:2: the row has fewer fields"),
        ("empty.csv", "text\n", InputSpec(), "holds no texts"),
        ("latin1.csv", "text\ncaf\xe9\n", InputSpec(), "is not UTF-8"),
        ("any.csv", "text\na\n", InputSpec(format="xml"), "--format must be one of"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, name: str, content: str | None, spec: InputSpec, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content.encode("latin-1" if name == "latin1.csv" else "utf-8"))
    with pytest.raises(ClassifyError) as info:
        read_input(path, spec)
    assert message in str(info.value)


def test_cli_classifies_and_bad_input_exits_1_with_one_line(
    trained: tuple[Settings, TrainOutcome], endpoint: EndpointServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DBP_BUILD_DIR": str(trained[0].build_dir),
        "DBP_ENDPOINT_PORT": str(endpoint.server_address[1]),
    }
    source = write_jsonl(tmp_path / "in.jsonl", many(5))
    done = run_invoke(env, "classify", str(source), str(tmp_path / "out.jsonl"), "-k", "2", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "5 texts (5 classified" in done.stdout
    assert all(len(line["top"]) == 2 for line in read_lines(tmp_path / "out.jsonl"))
    # the same output with another k: refused, exit 1, one line with the way out; --force replaces it
    again = run_invoke(env, "classify", str(source), str(tmp_path / "out.jsonl"), "-k", "4")
    assert again.returncode == 1 and "Traceback" not in again.stderr
    last = again.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {tmp_path / 'out.jsonl'} exists") and "--force" in last
    forced = run_invoke(env, "classify", str(source), str(tmp_path / "out.jsonl"), "-k", "4", "--force")
    assert forced.returncode == 0, forced.stderr
    assert all(len(line["top"]) == 4 for line in read_lines(tmp_path / "out.jsonl"))
    # the input as the output: refused before anything is written
    kept = source.read_bytes()
    same = run_invoke(env, "classify", str(source), str(source), "--force")
    assert same.returncode == 1 and "is the input file" in same.stderr.strip().splitlines()[-1]
    assert source.read_bytes() == kept
    (tmp_path / "bad.jsonl").write_text("{oops\n", encoding="utf-8")
    bad = run_invoke(env, "classify", str(tmp_path / "bad.jsonl"), str(tmp_path / "x.jsonl"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert (
        bad.stderr.strip().splitlines()[-1].startswith("error: ")
        and "bad.jsonl:1: not valid JSON" in bad.stderr
    )


def test_sizing_uses_the_best_single_text_endpoint_case_within_the_p99_goal() -> None:
    from ops.bench.measure import SIZING_HEADROOM, SIZING_PEAKS, sizing

    def case(target: str, batch: int, rps: float, p99: float, errors: int = 0) -> dict[str, Any]:
        return {
            "target": target,
            "batch": batch,
            "concurrency": 8,
            "requests_per_second": rps,
            "p99_ms": p99,
            "errors": errors,
        }

    serving = {
        "cases": [
            case("endpoint", 1, 900.0, 20.0),
            case("endpoint", 1, 1500.0, 250.0),  # faster, but misses the p99 goal
            case("endpoint", 10, 5000.0, 30.0),  # ten texts a request: not what the Lambda sends
            case("bare server", 1, 3000.0, 5.0),
            case("endpoint", 1, 2000.0, 10.0, errors=3),
        ]
    }
    result = sizing(serving, p99_ms=100.0)
    assert result["case"]["requests_per_second"] == 900.0
    per = 900.0 * SIZING_HEADROOM
    assert result["instances"] == {str(p): max(1, math.ceil(p / per)) for p in SIZING_PEAKS}
    assert sizing(serving, p99_ms=1.0)["case"] is None


def test_workers_default_to_one_per_core(tmp_path: Path) -> None:
    assert worker_count(make_settings(tmp_path)) == (os.cpu_count() or 1)
    assert worker_count(make_settings(tmp_path, classify_workers=3)) == 3

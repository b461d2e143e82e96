"""Bulk classification, target local: real model, real endpoint on 127.0.0.1, boto3 runtime client.

Inputs are written by the tests (JSON lines, CSV with a header, DBPedia's headerless CSV); resuming and
keeping finished outputs are in test_classify_resume.py.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import pytest

from ml.pipeline import TrainOutcome
from ml.records import ClassifyError, InputSpec, read_input
from ops.infra.moto_server import free_port
from ops.local.bulk import MAX_BODY_BYTES, classify, invoke, runtime_client, worker_count
from ops.local.endpoint import EndpointServer
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON, make_settings, run_invoke

from .bulk_inputs import ALBUM, DANUBE, NOVEL, many, read_lines, write_jsonl


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
    body, sent, _ = request_body(records, settings.top_k)
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

"""Bulk classification of the real DBPedia test rows agrees with classifying them one request at a time."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from ml.data import read_rows
from ml.deploy import register_local
from ml.lambda_src import text_tokenizer
from ml.pipeline import TrainOutcome
from ml.records import InputSpec
from ops.local.bulk import classify
from ops.local.endpoint import EndpointServer
from ops.settings import Settings
from tests.helpers import make_settings


def test_bulk_output_equals_single_requests_on_the_shared_test_rows(
    shared_data: Path, trained: tuple[Settings, TrainOutcome], endpoint: EndpointServer, tmp_path: Path
) -> None:
    # GIVEN ../shared/data/dbpedia/test.csv (DBPedia's headerless layout, 740 real rows)
    source = shared_data / "test.csv"
    rows = read_rows(source)
    settings = make_settings(tmp_path, endpoint_port=endpoint.server_address[1])
    register_local(settings, trained[1].archive)  # the model the endpoint serves, as `invoke up` serves it
    # WHEN classified in bulk (batches of 100 from 4 threads)
    summary = classify(settings, source, tmp_path / "out.jsonl", InputSpec())
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert summary.total == len(rows) == len(lines) == 740
    assert [line["id"] for line in lines] == list(range(1, len(rows) + 1))
    # THEN each line equals a single request with the Lambda's tokenizer through the same endpoint
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    tokenize = text_tokenizer().tokenize
    for row, line in zip(rows, lines, strict=True):
        body = json.dumps({"instances": [" ".join(tokenize(row.text))], "configuration": {"k": 3}})
        response = runtime.invoke_endpoint(
            EndpointName="dbpedia-classifier", ContentType="application/json", Body=body
        )
        [single] = json.loads(response["Body"].read())
        assert [t["label"] for t in line["top"]] == [
            label.removeprefix("__label__") for label in single["label"]
        ]
        assert [t["probability"] for t in line["top"]] == single["prob"]
    # and the labels are the model's, not noise: most rows are class 1 (Company) and mostly right
    hits = sum(line["label"] == "Company" for row, line in zip(rows, lines, strict=True) if row.label == 0)
    assert hits / sum(row.label == 0 for row in rows) > 0.8

"""``invoke classify --target aws`` on moto_server: the Batch Transform request, job reuse, the output join.

moto records a CreateTransformJob and marks it Completed at once, but runs no container and writes no output.
Where a test needs the job's output, an ``after-call`` hook stands in for the BlazingText container: it reads
the job's input from S3, predicts each line with the real model trained on the shipped sample, and writes the
``.out`` object where SageMaker would (AWS-side data). Without the hook the missing output is the clear error
a test checks.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from ml.aws.session import SageMakerError, split_s3_uri
from ml.aws.transform import INPUT_NAME, classify, endpoint_model, join_output, transform
from ml.lambda_src import tokens_of
from ml.pipeline import TrainOutcome
from ml.predict import Predictor
from ml.records import ClassifyError, InputSpec, Record
from ml.results import read_key
from ml.versions import versions_dir
from ops.infra.moto_server import MotoServer
from ops.settings import Settings
from ops.targets import select
from tests.helpers import WALTER_JOHNSON, make_settings, run_invoke

from .conftest import BUCKET, IMAGE, REGION, ROLE_ARN, Hooks

ENDPOINT = "dbpedia-classifier"
MODEL = "dbpedia-classifier-0123456789abcdef"
DANUBE = "The Danube is the second-longest river in Europe, flowing through Vienna and Budapest."
RECORDS = [Record("wj", WALTER_JOHNSON), Record(2, "?!"), Record("danube", DANUBE)]


def deploy_endpoint(moto: MotoServer, bucket: str = BUCKET, model: str = MODEL) -> None:
    """What `invoke train --target aws` leaves: the bucket, a model, its endpoint config and endpoint."""
    moto.client("s3").create_bucket(Bucket=bucket)
    sagemaker = moto.client("sagemaker")
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/dbpedia-classifier/output/model.tar.gz",
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{model}-cfg",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.t2.medium",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{model}-cfg")


def container_stand_in(moto: MotoServer, predictor: Predictor) -> Any:
    """``after-call.sagemaker.CreateTransformJob``: predict each input line, write ``<input>.out``."""
    sagemaker, s3 = moto.client("sagemaker"), moto.client("s3")

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        name = parsed["TransformJobArn"].rsplit("/", 1)[1]
        job = sagemaker.describe_transform_job(TransformJobName=name)
        bucket, prefix = split_s3_uri(job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
        out_bucket, out_prefix = split_s3_uri(job["TransformOutput"]["S3OutputPath"])
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
            requests = [json.loads(line) for line in body.splitlines()]
            answers = [predictor.predict([r["source"]], r["k"])[0] for r in requests]
            out = "".join(json.dumps({"prob": a["prob"], "label": a["label"]}) + "\n" for a in answers)
            key = out_prefix + item["Key"].rsplit("/", 1)[1] + ".out"
            s3.put_object(Bucket=out_bucket, Key=key, Body=out.encode())

    return handler


@pytest.fixture(scope="module")
def predictor(trained: tuple[Settings, TrainOutcome]) -> Predictor:
    settings, outcome = trained
    return Predictor.from_archive(outcome.archive, settings.build_dir / "cache")


@pytest.fixture
def settings(aws: MotoServer, tmp_path: Path) -> Settings:
    deploy_endpoint(aws)
    return make_settings(tmp_path, target="aws", region=REGION)


def the_job(moto: MotoServer) -> dict[str, Any]:
    sagemaker = moto.client("sagemaker")
    [summary] = sagemaker.list_transform_jobs()["TransformJobSummaries"]
    return sagemaker.describe_transform_job(TransformJobName=summary["TransformJobName"])


def test_transform_job_runs_the_deployed_model_on_jsonlines(
    settings: Settings, aws: MotoServer, hooks: Hooks, predictor: Predictor
) -> None:
    hooks.on("after-call.sagemaker.CreateTransformJob", container_stand_in(aws, predictor))
    # WHEN three texts are classified, one without a word
    lines = transform(settings, RECORDS, MODEL)
    # THEN one job ran on the endpoint's model, reading JSON lines split by line in multi-record batches
    job = the_job(aws)
    name = job["TransformJobName"]
    [input_uri] = {job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]}
    root = input_uri.removesuffix("input/")
    assert root.startswith(f"s3://{BUCKET}/dbpedia-classifier/transform/") and input_uri.endswith("/input/")
    assert job["ModelName"] == MODEL
    assert job["TransformInput"]["ContentType"] == "application/jsonlines"
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["BatchStrategy"] == "MultiRecord" and job["MaxPayloadInMB"] == 6
    assert job["TransformOutput"] == {
        "S3OutputPath": f"{root}output/{name}/",
        "Accept": "application/jsonlines",
        "AssembleWith": "Line",
    }
    assert job["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1}
    # the input holds the Lambda tokenizer's tokens in BlazingText's batch format, words-less text left out
    bucket, key = split_s3_uri(input_uri + INPUT_NAME)
    uploaded = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert [json.loads(line) for line in uploaded] == [
        {"source": tokens_of(WALTER_JOHNSON), "k": 3},
        {"source": tokens_of(DANUBE), "k": 3},
    ]
    # and the output is joined back to the ids, in the local target's format
    assert [(line["id"], line["label"]) for line in lines] == [
        ("wj", "Athlete"),
        (2, None),
        ("danube", "NaturalPlace"),
    ]
    assert len(lines[0]["top"]) == 3 and lines[0]["top"][0]["label"] == "Athlete"


def test_a_rerun_reuses_the_completed_job_and_uploads_nothing(
    settings: Settings, aws: MotoServer, hooks: Hooks, predictor: Predictor
) -> None:
    hooks.on("after-call.sagemaker.CreateTransformJob", container_stand_in(aws, predictor))
    first = transform(settings, RECORDS, MODEL)
    calls = hooks.count("before-call.sagemaker.CreateTransformJob", "before-call.s3.PutObject")
    assert transform(settings, RECORDS, MODEL) == first
    assert calls == []
    # a different k is a different input: a second job
    transform(settings.replace(top_k=2), RECORDS, MODEL)
    assert sorted(calls) == ["before-call.s3.PutObject", "before-call.sagemaker.CreateTransformJob"]


def test_classify_records_the_endpoints_model_and_refuses_an_output_of_another(
    settings: Settings, aws: MotoServer, hooks: Hooks, predictor: Predictor, tmp_path: Path
) -> None:
    hooks.on("after-call.sagemaker.CreateTransformJob", container_stand_in(aws, predictor))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": r.id, "text": r.text}) + "\n" for r in RECORDS), "utf-8")
    out = tmp_path / "out.jsonl"
    # WHEN classified on aws THEN the output's key names the model the endpoint serves
    classify(settings, source, out, InputSpec())
    assert read_key(out) is not None and read_key(out)["model"] == MODEL
    finished = out.read_bytes()
    # and a second run starts no job
    jobs = hooks.count("before-call.sagemaker.CreateTransformJob")
    assert classify(settings, source, out, InputSpec()).up_to_date and jobs == []
    # GIVEN the endpoint now serves another model (moto has no UpdateEndpoint: deleted and created again)
    aws.client("sagemaker").delete_endpoint(EndpointName=ENDPOINT)
    deploy_endpoint(aws, model="dbpedia-classifier-fedcba9876543210")
    # THEN the output is refused with the way out, and --force runs a job on the new model
    with pytest.raises(ClassifyError, match=r"made with another model.*--force.*delete it"):
        classify(settings, source, out, InputSpec())
    assert out.read_bytes() == finished and jobs == []
    classify(settings, source, out, InputSpec(), force=True)
    assert len(jobs) == 1 and read_key(out)["model"] == "dbpedia-classifier-fedcba9876543210"
    assert classify(settings, source, out, InputSpec()).up_to_date


def test_classify_refuses_the_input_as_output_before_any_aws_call(
    settings: Settings, hooks: Hooks, tmp_path: Path
) -> None:
    source = tmp_path / "keep.jsonl"
    source.write_text(json.dumps({"id": 1, "text": WALTER_JOHNSON}) + "\n", encoding="utf-8")
    kept = source.read_bytes()
    calls = hooks.count("before-call.sagemaker", "before-call.s3")
    with pytest.raises(ClassifyError, match="is the input file"):
        classify(settings, source, tmp_path / "." / "keep.jsonl", InputSpec(), force=True)
    assert calls == [] and source.read_bytes() == kept


def test_join_puts_predictions_back_on_their_ids(tmp_path: Path) -> None:
    out = tmp_path / "input.jsonl.out"
    out.write_text(
        '{"prob": [0.9], "label": ["__label__Athlete"]}\n\n'
        '{"prob": [0.8], "label": ["__label__NaturalPlace"]}\n',
        encoding="utf-8",
    )
    lines = join_output(RECORDS, [0, 2], out)
    assert [(line["id"], line["label"], line["probability"]) for line in lines] == [
        ("wj", "Athlete", 0.9),
        (2, None, None),
        ("danube", "NaturalPlace", 0.8),
    ]
    with pytest.raises(SageMakerError, match="has 2 lines for 3 texts"):
        join_output(RECORDS, [0, 1, 2], out)
    out.write_text('{"probability": 1}\n{"prob": [0.8], "label": ["__label__Plant"]}\n', encoding="utf-8")
    with pytest.raises(SageMakerError, match="not BlazingText's answer format"):
        join_output(RECORDS, [0, 2], out)


def test_no_endpoint_is_a_clear_error(aws: MotoServer, tmp_path: Path) -> None:
    aws.client("s3").create_bucket(Bucket=BUCKET)
    with pytest.raises(
        SageMakerError, match=r"no SageMaker endpoint 'dbpedia-classifier'.*invoke train --target aws"
    ):
        endpoint_model(make_settings(tmp_path, target="aws"))


def test_cli_says_when_the_job_wrote_no_output(settings: Settings, aws: MotoServer, tmp_path: Path) -> None:
    # moto writes no output: the command must end with one clear line and exit code 1
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "text": WALTER_JOHNSON}) + "\n", encoding="utf-8")
    env = {**os.environ, "DBP_BUILD_DIR": str(tmp_path / "build")}
    result = run_invoke(env, "classify", str(source), str(tmp_path / "out.jsonl"), "--target", "aws")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: there is no object at s3://") and last.endswith("/input.jsonl.out")
    assert not (tmp_path / "out.jsonl").exists()


def test_explain_sends_each_text_s_instances_and_regroups_the_answers_as_the_lambda_explains(
    aws: MotoServer,
    hooks: Hooks,
    predictor: Predictor,
    trained: tuple[Settings, TrainOutcome],
    tmp_path: Path,
) -> None:
    # GIVEN the endpoint serving the trained version, whose folder (and so its labels) is here
    settings = make_settings(tmp_path, target="aws", region=REGION, explain_max_words=5)
    shutil.copytree(versions_dir(trained[0]), versions_dir(settings))
    n_labels = len(json.loads(trained[1].manifest.read_text())["labels"])
    model = f"dbpedia-classifier-{trained[1].archive.parent.name}"
    deploy_endpoint(aws, model=model)
    hooks.on("after-call.sagemaker.CreateTransformJob", container_stand_in(aws, predictor))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": r.id, "text": r.text}) + "\n" for r in RECORDS), "utf-8")
    out = tmp_path / "out.jsonl"
    # WHEN the texts are classified on aws with explanations of at most 5 words, as the task asks its target
    select(settings).classify(settings, source, out, InputSpec(), False, True)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # THEN the job's input is, for each text with words, the text and it without each of its first 5 words
    # (the Lambda's one request, as lines), each asking every label
    expected = []
    for text in (WALTER_JOHNSON, DANUBE):
        words = tokens_of(text).split(" ")
        expected += [" ".join(words)] + [" ".join(words[:i] + words[i + 1 :]) for i in range(5)]
    bucket, key = split_s3_uri(the_job(aws)["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
    uploaded = aws.client("s3").get_object(Bucket=bucket, Key=key + INPUT_NAME)["Body"].read().decode()
    assert [json.loads(line) for line in uploaded.splitlines()] == [
        {"source": s, "k": n_labels} for s in expected
    ]
    # AND each text's line has its top 3 and each word's weight: how much the top label's probability drops
    # without it, by the real model
    assert [line["id"] for line in lines] == ["wj", 2, "danube"]
    for line, text in ((lines[0], WALTER_JOHNSON), (lines[2], DANUBE)):
        words = tokens_of(text).split(" ")
        whole = predictor.predict([" ".join(words)], n_labels)[0]
        top, probability = whole["label"][0], whole["prob"][0]
        assert (line["label"], len(line["top"])) == (top.removeprefix("__label__"), 3)
        assert (line["explainedWords"], line["instances"]) == (5, 6)
        assert [w["word"] for w in line["explanation"]] == words[:5]
        for i, weighed in enumerate(line["explanation"]):
            variant = predictor.predict([" ".join(words[:i] + words[i + 1 :])], n_labels)[0]
            without = dict(zip(variant["label"], variant["prob"], strict=True)).get(top, 0.0)
            assert weighed["weight"] == pytest.approx(probability - without, abs=1e-6)
    # AND a text without a word has no label and no explanation, as locally
    assert lines[1]["label"] is None and "explanation" not in lines[1]
    # AND the output's key records the explanation, so a plain run does not take it for its own
    assert read_key(out)["explain_words"] == 5
    with pytest.raises(ClassifyError, match="--explain"):
        classify(settings, source, out, InputSpec())


def test_explain_without_the_endpoint_model_s_version_here_stops_before_a_job(
    settings: Settings, hooks: Hooks, tmp_path: Path
) -> None:
    # GIVEN the endpoint serves a model whose version folder is not in this build folder
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "text": WALTER_JOHNSON}) + "\n", encoding="utf-8")
    jobs = hooks.count("before-call.sagemaker.CreateTransformJob", "before-call.s3.PutObject")
    # WHEN explained on aws  THEN it stops naming the model and what to do, nothing uploaded or started
    with pytest.raises(ClassifyError, match=rf"--explain needs the labels of the endpoint's model {MODEL}"):
        classify(settings, source, tmp_path / "out.jsonl", InputSpec(), explain_words=5)
    assert jobs == [] and not (tmp_path / "out.jsonl").exists()

"""A version's deploy inputs in S3 (ml/aws/store.py) and their fetch for plan / infra
(ops/infra/model_inputs.py), on moto_server: uploaded with their sha256, fetched by the tfvars'
model_sha256, each file checked, and readable with ``s3:GetObject`` on the prefix alone (IAM enforced on a
moto_server of its own).

The end to end case (trained and uploaded in one build folder, planned from a clean one) is in
test_train_on_moto.py, on that module's one training run.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ml import page, vocabulary
from ml.aws import store
from ml.deploy import EndpointCapacity, EndpointOutputs
from ml.fsutil import file_digest
from ml.lambda_src import contract, text_tokenizer
from ml.package import ARCHIVE, MANIFEST
from ml.versions import version_folder
from ops.infra.model_inputs import ModelInputsError, model_vocabulary
from ops.infra.moto_server import MotoServer
from tests.helpers import make_settings

from .conftest import ACCOUNT, REGION, Hooks

BUCKET = "models-bucket"
STORE = f"s3://{BUCKET}/dbpedia-classifier/models"


def make_version(folder: Path, archive: bytes = b"model bytes") -> str:
    """A finished version folder (archive, its vocabulary, its page, a manifest naming it); its sha256."""
    folder.mkdir(parents=True)
    (folder / ARCHIVE).write_bytes(archive)
    sha = file_digest(folder / ARCHIVE)
    words = contract.Vocabulary(frozenset({"river", "film"}), frozenset({"the", "is"}))
    (folder / vocabulary.VOCABULARY).write_bytes(vocabulary.encode(words, sha, text_tokenizer().SCHEME))
    page.write(folder, {"labels": [{"label": "River", "name": "River"}], "examples": []})
    (folder / MANIFEST).write_text(json.dumps({"model": {"sha256": sha}, "metrics": {"test_accuracy": 0.97}}))
    return sha


def endpoint(sha: str, store_uri: str = STORE) -> EndpointOutputs:
    """The tfvars of a real endpoint serving the model ``sha``, its inputs in ``store_uri``."""
    return EndpointOutputs(
        endpoint_name="dbpedia-classifier",
        endpoint_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/dbpedia-classifier",
        aws_region=REGION,
        sagemaker_runtime_url=f"https://runtime.sagemaker.{REGION}.amazonaws.com",
        endpoint_capacity=EndpointCapacity("instance", instance_type="ml.t2.medium", instance_count=1),
        model_sha256=sha,
        model_store_uri=store_uri,
    )


@pytest.fixture
def uploaded(aws: MotoServer, tmp_path: Path) -> tuple[Any, str, Path]:
    """A version uploaded to the store from a folder of its own: (s3 client, its sha256, that folder)."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    source = tmp_path / "trained-here" / "version"
    sha = make_version(source)
    assert store.upload(s3, source, STORE) == f"{STORE}/{sha}/"
    return s3, sha, source


def test_a_version_s_inputs_are_stored_with_their_sha256_and_uploaded_once(
    uploaded: tuple[Any, str, Path],
) -> None:
    # GIVEN a version uploaded to the store
    s3, sha, source = uploaded
    # WHEN its folder is listed
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"dbpedia-classifier/models/{sha}/")["Contents"]
    # THEN it holds the archive, vocabulary, page and manifest, byte for byte, each with its sha256
    assert sorted(item["Key"].rsplit("/", 1)[1] for item in listed) == sorted(store.FILES)
    for name, content_type in store.FILES.items():
        stored = s3.get_object(Bucket=BUCKET, Key=f"dbpedia-classifier/models/{sha}/{name}")
        assert stored["Body"].read() == (source / name).read_bytes()
        assert (stored["Metadata"], stored["ContentType"]) == (
            {"sha256": file_digest(source / name)},
            content_type,
        )
    # AND a second upload of the same version sends nothing
    puts: list[str] = []
    s3.meta.events.register("before-call.s3", lambda event_name, **_: puts.append(event_name))
    assert store.upload(s3, source, STORE) == f"{STORE}/{sha}/"
    assert puts == ["before-call.s3.HeadObject"] * len(store.FILES)


def test_plan_on_a_clean_build_fetches_the_model_by_the_tfvars_sha256_with_get_object_only(
    uploaded: tuple[Any, str, Path], hooks: Hooks, tmp_path: Path
) -> None:
    # GIVEN a clean build folder (no build/model/versions) and tfvars naming the model and its store
    _, sha, source = uploaded
    settings = make_settings(tmp_path / "ci-checkout", target="aws")
    calls = hooks.count("before-call.s3")  # every S3 operation (botocore's event hierarchy)
    # WHEN the Lambda zip's vocabulary is looked for, twice
    path = model_vocabulary(settings, endpoint(sha))
    again = model_vocabulary(settings, endpoint(sha))
    # THEN the version was fetched into its folder as if trained here, with one GetObject a file and no other
    # S3 call (no listing, no HeadObject): s3:GetObject on the prefix is all a CI role needs
    folder = version_folder(settings, sha)
    assert path == again == folder / vocabulary.VOCABULARY and vocabulary.is_for(path, sha)
    for name in store.FILES:
        assert (folder / name).read_bytes() == (source / name).read_bytes()
    assert calls == ["before-call.s3.GetObject"] * len(store.FILES)


@pytest.mark.parametrize(
    ("name", "replacement", "message"),
    [
        (ARCHIVE, b"other model bytes", "model.tar.gz has sha256 [0-9a-f]{64}, not the model_sha256"),
        (vocabulary.VOCABULARY, None, "vocabulary.txt.gz is not the vocabulary of the model"),
        (page.PAGE, b'{"title": "no labels"}', "page.json is not a version's page"),
        (MANIFEST, b'{"model": {"sha256": "0"}}', "manifest.json describes the model 0, not"),
    ],
)
def test_a_stored_file_that_is_not_the_model_s_is_refused_and_not_kept(
    uploaded: tuple[Any, str, Path], tmp_path: Path, name: str, replacement: bytes | None, message: str
) -> None:
    # GIVEN one of the version's objects overwritten by another model's (the vocabulary: a real one of it)
    s3, sha, _ = uploaded
    other = tmp_path / "other"
    make_version(other, b"another model")
    body = replacement if replacement is not None else (other / name).read_bytes()
    s3.put_object(Bucket=BUCKET, Key=f"dbpedia-classifier/models/{sha}/{name}", Body=body)
    settings = make_settings(tmp_path / "ci-checkout", target="aws")
    # WHEN a clean build fetches it  THEN one line names the object and what is wrong, and it is not kept
    with pytest.raises(store.ModelStoreError, match=message) as refused:
        model_vocabulary(settings, endpoint(sha))
    assert f"{STORE}/{sha}/{name}" in str(refused.value) and "\n" not in str(refused.value)
    assert not (version_folder(settings, sha) / name).exists()
    assert not (version_folder(settings, sha) / MANIFEST).exists()  # the folder is not a finished version


def test_a_model_not_in_the_store_or_no_store_named_says_what_to_run(
    uploaded: tuple[Any, str, Path], tmp_path: Path
) -> None:
    # GIVEN a clean build, and tfvars naming a model the store does not hold, or no store at all
    settings = make_settings(tmp_path / "ci-checkout", target="aws")
    # WHEN / THEN each stops with one line saying what to do
    with pytest.raises(
        store.ModelStoreError, match=r"cannot read .*/model.tar.gz \(NoSuchKey\).*s3:GetObject"
    ):
        model_vocabulary(settings, endpoint("ab" * 32))
    with pytest.raises(ModelInputsError, match=r"no model store .*run `invoke train`"):
        model_vocabulary(settings, endpoint("ab" * 32, store_uri=""))


def _enforce_iam(moto: MotoServer) -> None:
    """Switch moto's IAM enforcement on: every request from now on is checked."""
    request = urllib.request.Request(
        f"{moto.url}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form type would leave Flask's request.data empty
    )
    urllib.request.urlopen(request, timeout=10)


@pytest.mark.parametrize("granted", [["s3:GetObject"], ["s3:ListBucket"]])
def test_the_fetch_needs_s3_get_object_on_the_models_prefix_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, granted: list[str]
) -> None:
    """On a moto_server of its own (enforcement cannot be switched off again), as a user whose only policy is
    ``granted`` on the store's objects and bucket, as the CI roles' grant would be."""
    with MotoServer(account_id=ACCOUNT) as moto:
        s3, iam = moto.client("s3"), moto.client("iam")
        s3.create_bucket(Bucket=BUCKET)
        sha = make_version(tmp_path / "trained-here")
        store.upload(s3, tmp_path / "trained-here", STORE)
        iam.create_user(UserName="ci-plan")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": granted,
                    "Resource": [
                        f"arn:aws:s3:::{BUCKET}/dbpedia-classifier/models/*",
                        f"arn:aws:s3:::{BUCKET}",
                    ],
                }
            ],
        }
        iam.put_user_policy(UserName="ci-plan", PolicyName="models-read", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="ci-plan")["AccessKey"]
        for name, value in moto.aws_env(REGION).items():
            monkeypatch.setenv(name, value) if value is not None else monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        _enforce_iam(moto)
        settings = make_settings(tmp_path / "ci-checkout", target="aws")
        # WHEN a clean build fetches the model as that user
        if granted == ["s3:GetObject"]:
            # THEN GetObject alone is enough
            assert vocabulary.is_for(model_vocabulary(settings, endpoint(sha)), sha)
        else:
            # THEN without it the fetch stops in one line naming the right it needs
            with pytest.raises(store.ModelStoreError, match=r"\(AccessDenied\).*s3:GetObject"):
                model_vocabulary(settings, endpoint(sha))

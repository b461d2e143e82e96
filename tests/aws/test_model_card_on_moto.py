"""The model package carries the version's model card (CreateModelPackage's ``ModelCard``), on moto_server.

moto 5.2.5 accepts ``ModelCard`` in CreateModelPackage and drops it: its DescribeModelPackage answers none
(moto implements standalone model cards, CreateModelCard, not a package's). So this test checks what the
request sends, after botocore has validated it against SageMaker's service model, and, for the gap only,
that moto still answers without it: when moto keeps the card, the last assertion fails and should compare
it instead.
"""

from __future__ import annotations

import json
from typing import Any

from ml import model_card
from ml.aws import versions as packages
from ml.pipeline import TrainOutcome
from ml.versions import find
from ops.infra.moto_server import MotoServer
from ops.settings import Settings

from .conftest import IMAGE

DATA = "s3://bucket/dbpedia-classifier/output/job/output/model.tar.gz"


def test_the_package_is_created_with_the_version_s_card_as_a_draft(
    aws: MotoServer, trained: tuple[Settings, TrainOutcome]
) -> None:
    settings, outcome = trained
    version = find(settings.model_dir / "versions", outcome.archive.parent.name)
    client = aws.client("sagemaker")
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.sagemaker.CreateModelPackage", lambda params, **_: sent.append(dict(params))
    )
    # WHEN the version is registered
    package = packages.register(
        client,
        "card-group",
        version,
        image=IMAGE,
        model_data=DATA,
        artifact_sha256=version.manifest["model"]["sha256"],
        approve=False,
    )
    # THEN the request carried its card, the one in its version folder, as a draft
    card = sent[0]["ModelCard"]
    assert card["ModelCardStatus"] == "Draft"
    on_disk = json.loads((version.folder / model_card.CARD_JSON).read_text())
    assert json.loads(card["ModelCardContent"]) == on_disk
    assert len(card["ModelCardContent"]) <= 100_000  # SageMaker's limit on the content
    # AND moto, which drops the card (see the module's docstring), still answers the package
    described = client.describe_model_package(ModelPackageName=package.arn)
    assert "ModelCard" not in described

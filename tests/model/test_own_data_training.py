"""`invoke train --data YOUR.csv`: the whole pipeline on a user's labels, escaped ones included."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ml import deploy, preprocess
from ml.labels import LABEL_PREFIX, to_label
from ml.pipeline import run
from ml.predict import Predictor
from ml.versions import GateError
from tests.helpers import make_settings, own_data_settings

TOPICS = {
    "Science Fiction": "starship alien galaxy robot planet laser orbit android",
    "cooking": "recipe oven flour butter simmer garlic onion sauce",
    "100% sport": "goal match referee striker league stadium coach penalty",
}


def write_reviews(path: Path, per_label: int) -> None:
    """A CSV with headline and body columns, each row a seeded draw of its topic's words."""
    rng = random.Random(7)
    lines = ["topic,headline,body"]
    for i in range(per_label):
        for topic, words in TOPICS.items():
            vocabulary = words.split()
            body = " ".join(rng.choice(vocabulary) for _ in range(12))
            lines.append(f'"{topic}",Story {i},"{body}. The end."')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_training_on_own_labels_keeps_them_reversibly(tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    write_reviews(data, per_label=40)
    settings = make_settings(
        tmp_path,
        data=str(data),
        label_column="topic",
        text_column="headline,body",
        dropout_views=1,
        epochs=5,
        min_count=1,
        threads=1,
    )
    outcome = run(settings)
    manifest = json.loads(outcome.manifest.read_text(encoding="utf-8"))
    assert manifest["label_names"] == {
        "100%25%20sport": "100% sport",
        "Science%20Fiction": "Science Fiction",
        "cooking": "cooking",
    }
    assert manifest["data"]["splits"] == {"train": 96, "validation": 12, "test": 12}
    assert outcome.test_accuracy >= 0.9

    predictor = Predictor.from_archive(outcome.archive, tmp_path / "cache")
    answer = predictor.predict([" ".join(preprocess.tokenize("the alien starship left orbit"))], k=1)
    (label,) = answer[0]["label"]
    assert to_label(label.removeprefix(LABEL_PREFIX)) == "Science Fiction"
    assert run(settings).reused, "a second run on the same file trains nothing"


@pytest.mark.slow
def test_the_gate_refuses_a_version_trained_on_other_labels_and_keeps_the_live_one(tmp_path: Path) -> None:
    # GIVEN a live version trained on three labels
    settings = own_data_settings(tmp_path)
    live = run(settings)
    # WHEN a file with only two of them (another task) is trained for the same endpoint
    data = Path(settings.data)
    rows = data.read_text(encoding="utf-8").splitlines()
    (tmp_path / "two").mkdir()
    two = tmp_path / "two" / "tickets.csv"
    two.write_text("\n".join(r for r in rows if not r.startswith('"cooking"')) + "\n", encoding="utf-8")
    with pytest.raises(GateError) as refused:
        run(settings.replace(data=str(two)))
    # THEN the gate says why in one line, names what to do, and the live version is still served
    message = str(refused.value)
    assert "was trained on other labels (2 labels: 100% sport, Science Fiction) than the live" in message
    assert "(3 labels:" in message and "--endpoint-name" in message and "\n" not in message
    assert deploy.registered_archive(settings) == live.archive
    # AND on an endpoint of its own it deploys
    assert run(settings.replace(data=str(two), endpoint_name="two-labels")).test_accuracy > 0.5

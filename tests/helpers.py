"""Plain helpers for every test folder (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from ml.config import ROOT
from ops.settings import Settings, load_settings

SHARED_DATA = ROOT.parent / "shared" / "data" / "dbpedia"
EVENTS = Path(__file__).parent / "events"
WALTER_JOHNSON = (
    "Walter Perry Johnson was a Major League Baseball right-handed pitcher. He played his entire 21-year "
    "baseball career for the Washington Senators."
)


# The shipped data holds every real row (30,944); tests train on 600 a class of it, seeded, and so do the
# processes they start: the default model reaches the same test accuracy as on 1,000 (0.967 both) for 60%
# of the CPU of a training run, which many tests make (docs/ci.md).
TEST_ROWS = {"DBP_MAX_ROWS_PER_CLASS": "600"}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the caller's DBP_* settings but with the tests' row cap."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DBP_")}, **TEST_ROWS, **extra}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def load_event(name: str) -> dict[str, Any]:
    """A captured API Gateway event from tests/events/."""
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings whose every output lands under ``tmp``."""
    return load_settings(build_dir=tmp / "build", terraform_dir=tmp / "terraform", **overrides)


def run_invoke(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m invoke ARGS`` in the project with ``env``, as a user would; never raises on failure."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of every Markdown table row in ``markdown``, stripped (padding is the renderer's)."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows]


def lambda_settings_env() -> dict[str, str]:
    """What the Lambda reads, as the local stack and Terraform set it: TOP_K etc. from ops/settings.py."""
    return {name.upper(): str(value) for name, value in load_settings().lambda_settings().items()}


# A user's own labels (issue 26): three topics, one with a space and one with a percent sign, each row a
# seeded draw of its topic's words, and the labels.json that describes them to the page.
OWN_TOPICS = {
    "Science Fiction": "starship alien galaxy robot planet laser orbit android",
    "cooking": "recipe oven flour butter simmer garlic onion sauce",
    "100% sport": "goal match referee striker league stadium coach penalty",
}
OWN_LABELS_JSON = {
    "noun": "genres",
    "labels": {
        "cooking": {
            "name": "Cooking",
            "description": "recipes and kitchens",
            "examples": [{"text": "Simmer the garlic in butter, then add flour.", "caption": "A recipe"}],
        },
        "Science Fiction": {
            "description": "starships and aliens",
            "examples": ["The alien starship left orbit."],
        },
    },
}


def write_own_data(folder: Path, per_label: int = 40, labels_json: bool = True) -> Path:
    """``folder/tickets.csv`` (columns label, text) of ``OWN_TOPICS``; if asked, ``labels.json`` beside."""
    rng = random.Random(7)
    lines = ["label,text"]
    for i in range(per_label):
        for topic, words in OWN_TOPICS.items():
            body = " ".join(rng.choice(words.split()) for _ in range(12))
            lines.append(f'"{topic}","Story {i}: {body}. The end."')
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tickets.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if labels_json:
        (folder / "labels.json").write_text(json.dumps(OWN_LABELS_JSON), encoding="utf-8")
    return folder / "tickets.csv"


def own_data_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings that train a small real model on ``write_own_data``'s file quickly."""
    data = write_own_data(tmp / "data", labels_json=overrides.pop("labels_json", True))
    quick = {"dropout_views": 1, "epochs": 5, "min_count": 1, "threads": 1}
    return make_settings(tmp, data=str(data), **{**quick, **overrides})


def lambda_environment_of(archive: Path) -> dict[str, str]:
    """What the local stack gives the Lambda for the version ``archive``, its labels from the manifest."""
    from ml import vocabulary
    from ml.versions import read_manifest

    manifest = read_manifest(archive.parent)
    assert manifest is not None, f"{archive.parent} has no manifest"
    return vocabulary.lambda_environment(archive, manifest["labels"])


def put_feedback(folder: Path, item_id: str, text: str, predicted: str, correct: str, received: str) -> None:
    """A feedback item as ml/aws/feedback.py downloads it (the Lambda's object, as stored) into ``folder``."""
    from ml import feedback

    path = feedback.item_path(folder, item_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    item = {"id": item_id, "received": received, "text": text, "predicted": predicted, "correct": correct}
    path.write_text(json.dumps({**item, "modelSha256": "ab" * 32}), encoding="utf-8")


def reviewed_feedback(folder: Path, texts: list[tuple[str, str]]) -> None:
    """Feedback on eight (label, text) pairs into ``folder``: the first six marked right and accepted, the
    seventh a wrong label (poisoned) and rejected, the eighth not reviewed."""
    from ml import feedback

    for n, (label, text) in enumerate(texts[:6]):
        put_feedback(folder, f"ok{n}", text, label, label, f"2026-12-0{n + 1}T10:00:00Z")
        feedback.decide(folder, f"ok{n}", "accept")
    wrong = "Film" if texts[6][0] != "Film" else "Album"
    put_feedback(folder, "poison", texts[6][1], texts[6][0], wrong, "2026-12-07T10:00:00Z")
    feedback.decide(folder, "poison", "reject")
    put_feedback(folder, "waiting", texts[7][1], texts[7][0], texts[7][0], "2026-12-08T10:00:00Z")


def real_texts(settings: Settings) -> list[tuple[str, str]]:
    """(label, text) of the prepared test split's first rows of different labels: real DBPedia abstracts."""
    from ml import data, preprocess

    dataset = data.resolve_dataset(settings)
    prepared = preprocess.prepare(dataset, lambda: data.make_splits(dataset, settings), settings)
    seen: dict[str, str] = {}
    for row in prepared.test_rows():
        seen.setdefault(dataset.classes[row.label], row.text)
    return list(seen.items())

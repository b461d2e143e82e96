"""Every version gets a model card and a live-metrics band from its manifest (ml/model_card.py, ml/drift.py).

A real model trained by the pipeline on real rows; the card is checked for what issue 27 asks it to say.
"""

from __future__ import annotations

import json

from ml import model_card
from ml.pipeline import TrainOutcome
from ops.settings import Settings


def test_the_version_folder_holds_its_card_made_from_its_manifest(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    _, outcome = trained
    folder = outcome.manifest.parent
    manifest = json.loads(outcome.manifest.read_text())
    written = json.loads((folder / model_card.CARD_JSON).read_text())
    # THEN the card is the manifest's, in the schema of SageMaker's model package model card
    assert written == json.loads(json.dumps(model_card.card(manifest, folder.name)))
    assert set(written) == {
        "intended_uses",
        "training_details",
        "evaluation_details",
        "additional_information",
    }
    groups = {g["name"]: g["metric_data"] for g in written["evaluation_details"][0]["metric_groups"]}
    overall = {m["name"]: m["value"] for m in groups["overall"]}
    assert overall["test_accuracy"] == manifest["metrics"]["test_accuracy"]
    assert {m["name"] for m in groups["test accuracy by slice"]} == {
        "title",
        "first_sentence",
        "short",
        "content",
    }
    assert {m["name"] for m in groups["validation unknown-text rate by form"]} == {"text", "first_8_tokens"}
    assert len(groups["test F1 by class"]) == len(manifest["labels"]) == 14
    # AND the Markdown says it to a person: data and licence, rows, settings, metrics, limits, date
    text = (folder / model_card.CARD_MD).read_text()
    for part in (
        f"# About this model (version {folder.name})",
        "CC BY-SA 3.0",
        f"train {manifest['data']['splits']['train']}",
        "14 classes",
        f"epochs {manifest['hyperparameters']['epochs']}",
        "### Test accuracy by slice",
        "English only",
        "Short texts are less accurate",
        "low-confidence answer",
        f"created {manifest['created']}",
    ):
        assert part in text, part
    # AND writing it again from the same manifest changes nothing
    assert model_card.markdown(manifest, folder.name) == text
    # AND the page the site serves says the same, with no script
    page = (folder / model_card.CARD_HTML).read_text()
    assert page == model_card.html(manifest, folder.name) and "<script" not in page
    assert f"<h1>About this model (version {folder.name})</h1>" in page
    assert "<h3>Test accuracy by slice</h3>" in page and "CC BY-SA 3.0" in page


def test_the_card_page_escapes_what_the_manifest_holds() -> None:
    # GIVEN a manifest whose data origin (a path the user gave) is markup
    manifest = {"data": {"origin": "<script>alert(1)</script>", "own": True}, "labels": ["a&b"]}
    # WHEN its card page is made  THEN the markup is text, never an element
    page = model_card.html(manifest, "0123456789abcdef")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script" not in page


def test_the_band_is_measured_on_the_validation_split_and_contains_it(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    manifest = json.loads(trained[1].manifest.read_text())
    band = manifest["drift_band"]
    forms = band["measured"]
    assert set(forms) == {"text", "first_8_tokens"}
    assert all(f["n"] == manifest["data"]["splits"]["validation"] for f in forms.values())
    # the short form loses more texts to the unknown-text rule than the whole text
    assert forms["first_8_tokens"]["unknown_text"] >= forms["text"]["unknown_text"]
    for name, share in [("unknown_text", band["unknown_text"]), *band["labels"].items()]:
        values = [
            f["unknown_text"] if name == "unknown_text" else f["label_shares"].get(name, 0.0)
            for f in forms.values()
        ]
        assert share["low"] <= min(values) <= max(values) <= share["high"], name
        assert share["high"] - share["low"] > max(values) - min(values), name  # widened for the noise
    assert set(band["labels"]) == set(manifest["labels"]) and band["min_day_answers"] == 100
    # every label the model answers on both forms has a low side, judged on a count at which its low edge
    # holds 5 answers: a label that stops being answered alarms
    assert band["min_low_edge_answers"] == 5
    for name, share in band["labels"].items():
        values = [f["label_shares"].get(name, 0.0) for f in forms.values()]
        if min(values) > 0:
            assert share["low"] > 0 and share["low"] * share["low_answers"] >= 5, name

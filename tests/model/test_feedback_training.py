"""Visitors' feedback from download to training (ml/feedback.py): the summary, a person's decisions kept,
and `invoke train --with-feedback` on real fastText and real rows: only accepted items are added, the
manifest names them, and the accuracy on them is reported for the old and the new model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from ml import feedback
from ml.package import unpack
from ml.pipeline import TrainOutcome, run
from ml.versions import versions_dir
from ops.settings import Settings
from tests.helpers import make_settings, real_texts, reviewed_feedback
from tests.helpers import put_feedback as put


def test_the_summary_counts_pairs_reviews_and_shows_the_newest_first(tmp_path: Path) -> None:
    put(tmp_path, "a1", "An old text", "Company", "Company", "2026-12-01T10:00:00Z")
    put(tmp_path, "b2", "A newer text", "Company", "Athlete", "2026-12-02T10:00:00Z")
    put(tmp_path, "c3", "The newest text", "Company", "Athlete", "2026-12-03T10:00:00Z")
    feedback.decide(tmp_path, "b2", "reject")
    facts = feedback.summary(tmp_path, newest=2)
    assert (facts["items"], facts["right"]) == (3, 1)
    assert facts["pairs"][0] == {"predicted": "Company", "correct": "Athlete", "count": 2}
    assert facts["reviews"] == {"accept": 0, "reject": 1, "unreviewed": 2}
    assert [n["text"] for n in facts["newest"]] == ["The newest text", "A newer text"]
    assert "Company -> Athlete: 2" in feedback.summary_text(facts)


def test_decisions_are_kept_replaced_and_refused_for_unknown_items(tmp_path: Path) -> None:
    put(tmp_path, "a1", "A text", "Company", "Athlete", "2026-12-01T10:00:00Z")
    feedback.decide(tmp_path, "a1", "reject")
    feedback.decide(tmp_path, "a1", "accept")  # a person may change their mind
    assert feedback.reviews(tmp_path)["a1"]["decision"] == "accept"
    assert [i.id for i in feedback.accepted(tmp_path, ["Athlete"])] == ["a1"]
    assert feedback.unreviewed(tmp_path) == []
    with pytest.raises(feedback.FeedbackError, match="no downloaded feedback item 'zz'"):
        feedback.decide(tmp_path, "zz", "accept")
    with pytest.raises(feedback.FeedbackError, match="use accept or reject"):
        feedback.decide(tmp_path, "a1", "maybe")
    (tmp_path / feedback.REVIEWS).write_text("{not json", encoding="utf-8")
    with pytest.raises(feedback.FeedbackError, match=r"reviews\.json is not readable"):
        feedback.reviews(tmp_path)


def test_nothing_unreviewed_or_rejected_enters_training(tmp_path: Path) -> None:
    put(tmp_path / "feedback", "a1", "A text", "Company", "Athlete", "2026-12-01T10:00:00Z")
    put(tmp_path / "feedback", "b2", "Another", "Company", "Film", "2026-12-01T11:00:00Z")
    feedback.decide(tmp_path / "feedback", "b2", "reject")
    with pytest.raises(feedback.FeedbackError, match="no accepted feedback"):
        feedback.for_training(tmp_path, ["Company", "Athlete", "Film"])


@pytest.mark.slow
def test_train_with_feedback_adds_the_accepted_items_and_reports_them_for_old_and_new_model(
    trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN the session's model deployed in a build folder of its own
    settings = make_settings(tmp_path)
    shutil.copytree(trained[0].data_dir, settings.data_dir)
    shutil.copytree(versions_dir(trained[0]), versions_dir(settings))
    old = run(settings)
    # AND feedback on real DBPedia texts of its test split: accepted, rejected (poisoned), unreviewed
    folder = feedback.folder_of(settings.build_dir)
    texts = real_texts(settings)
    reviewed_feedback(folder, texts)
    # WHEN it trains with the accepted feedback
    new = run(settings.replace(with_feedback=True))
    # THEN a new version, whose manifest names exactly the accepted items and their accuracy for both models
    assert new.archive != old.archive and not new.reused
    recorded = json.loads(new.manifest.read_text(encoding="utf-8"))["feedback"]
    assert recorded["items"] == 6 and recorded["ids"] == [f"ok{n}" for n in range(6)]
    assert len(recorded["sha256"]) == 64
    # (the slice is each model's accuracy on those items: the old one is the model deployed before)
    fed = feedback.for_training(settings.build_dir, json.loads(new.manifest.read_text())["labels"])
    cache = tmp_path / "check"
    models = {name: unpack(o.archive, cache / name) for name, o in (("old", old), ("new", new))}
    assert recorded["accuracy"] == {name: feedback.accuracy_on(m, fed) for name, m in models.items()}
    # AND the evaluation report and the model card show that slice for both models
    report = new.archive.with_name("metrics.md").read_text(encoding="utf-8")
    new_acc, old_acc = recorded["accuracy"]["new"], recorded["accuracy"]["old"]
    said = f"Accepted feedback (6 items, `--with-feedback`): accuracy on them, this model **{new_acc:.4f}**"
    assert said in report
    assert f"the model deployed before it {old_acc:.4f}" in report
    assert json.loads(new.archive.with_name("metrics.json").read_text())["feedback"] == recorded
    card = new.archive.with_name("model_card.md").read_text(encoding="utf-8")
    assert "### Accuracy on the 6 accepted feedback items (training rows too)" in card
    assert re.search(rf"\| the model deployed before +\| {old_acc:.4f} +\|", card), card
    # AND the record is the accepted items' own, as the aws target records them
    assert {k: recorded[k] for k in ("items", "ids", "sha256")} == fed.record()
    # AND the same run again reuses it: the accepted feedback is part of what identifies a training
    assert run(settings.replace(with_feedback=True)).reused

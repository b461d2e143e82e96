"""Visitors' feedback on this machine: the items downloaded from the feedback bucket, a person's decisions
on them, and the accepted ones as training rows (docs/feedback.md).

Layout under ``<build_dir>/feedback/``: ``items/<id>.json``, one item as the Lambda stored it
(``lambda/feedback.py``: id, received, text, predicted, correct, modelSha256), never changed here; and
``reviews.json``, ``{id: {"decision": "accept" | "reject", "reviewed": "<UTC time>"}}``, written atomically
on every decision. Only an item a person accepted becomes a training row: nothing a visitor sends enters
training unreviewed (the guard against poisoning).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.errors import ProjectError
from ml.fsutil import write_json

ITEMS = "items"
REVIEWS = "reviews.json"
DECISIONS = ("accept", "reject")
FIELDS = ("id", "received", "text", "predicted", "correct", "modelSha256")


class FeedbackError(ProjectError):
    """The feedback folder or a decision cannot be used; the message says which file or id."""


@dataclass(frozen=True)
class Item:
    """One visitor's feedback: ``correct`` is the label they chose (``predicted``: the answer was right)."""

    id: str
    received: str
    text: str
    predicted: str
    correct: str
    model_sha256: str


def folder_of(build_dir: Path) -> Path:
    """Where the feedback of a build folder lives."""
    return build_dir / "feedback"


def item_path(folder: Path, item_id: str) -> Path:
    return folder / ITEMS / f"{item_id}.json"


def read_item(path: Path) -> Item:
    """An item file; FeedbackError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        values = [data[name] for name in FIELDS]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FeedbackError(f"{path} is not a feedback item ({exc}); remove it or download again") from None
    if not all(isinstance(v, str) for v in values):
        raise FeedbackError(f"{path} is not a feedback item (a field is not text)")
    return Item(*values)


def items(folder: Path) -> list[Item]:
    """Every downloaded item, newest first."""
    found = [read_item(path) for path in sorted((folder / ITEMS).glob("*.json"))]
    return sorted(found, key=lambda item: (item.received, item.id), reverse=True)


def reviews(folder: Path) -> dict[str, dict[str, str]]:
    """The decisions so far, by item id; FeedbackError when the file is not readable."""
    path = folder / REVIEWS
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FeedbackError(f"{path} is not readable ({exc}); fix or remove it") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and v.get("decision") in DECISIONS for v in data.values()
    ):
        raise FeedbackError(f'{path} must map item ids to {{"decision": "accept" | "reject", ...}}')
    return data


def decide(folder: Path, item_id: str, decision: str, now: datetime | None = None) -> None:
    """Record a person's decision on one downloaded item (a later one replaces it), atomically."""
    if decision not in DECISIONS:
        raise FeedbackError(f"decision {decision!r}: use accept or reject")
    if not item_path(folder, item_id).exists():
        raise FeedbackError(f"no downloaded feedback item {item_id!r} in {folder / ITEMS}")
    kept = reviews(folder)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    kept[item_id] = {"decision": decision, "reviewed": stamp}
    write_json(folder / REVIEWS, kept)


def unreviewed(folder: Path) -> list[Item]:
    """The items nobody decided on yet, oldest first (the order a review takes them)."""
    decided = reviews(folder)
    return [item for item in reversed(items(folder)) if item.id not in decided]


def accepted(folder: Path, labels: list[str]) -> list[Item]:
    """The items a person accepted whose chosen label is one of ``labels`` (the data's), oldest first."""
    decided = reviews(folder)
    chosen = [i for i in reversed(items(folder)) if decided.get(i.id, {}).get("decision") == "accept"]
    return [item for item in chosen if item.correct in labels]


def summary(folder: Path, newest: int = 5) -> dict[str, Any]:
    """What came in: counts per predicted → correct pair, review counts, the newest texts."""
    found = items(folder)
    decided = reviews(folder)
    pairs = Counter((item.predicted, item.correct) for item in found)
    states = Counter(decided.get(item.id, {}).get("decision", "unreviewed") for item in found)
    return {
        "items": len(found),
        "right": sum(n for (p, c), n in pairs.items() if p == c),
        "pairs": [{"predicted": p, "correct": c, "count": n} for (p, c), n in pairs.most_common()],
        "reviews": {state: states.get(state, 0) for state in ("accept", "reject", "unreviewed")},
        "newest": [
            {"received": i.received, "predicted": i.predicted, "correct": i.correct, "text": i.text}
            for i in found[:newest]
        ],
    }


def summary_text(facts: dict[str, Any]) -> str:
    """The summary as lines for a terminal."""
    if not facts["items"]:
        return "No feedback yet."
    wrong = facts["items"] - facts["right"]
    lines = [
        f"{facts['items']} items: {facts['right']} say the answer was right, {wrong} name another label.",
        "Reviews: {accept} accepted, {reject} rejected, {unreviewed} not reviewed.".format(
            **facts["reviews"]
        ),
        "",
        "predicted -> correct: count",
    ]
    lines += [f"  {p['predicted']} -> {p['correct']}: {p['count']}" for p in facts["pairs"]]
    lines += ["", "Newest:"]
    for n in facts["newest"]:
        lines.append(f"  {n['received']}  {n['predicted']} -> {n['correct']}: {n['text'][:120]}")
    return "\n".join(lines)


# --- training (`invoke train --with-feedback`) ----------------------------------------------------


@dataclass(frozen=True)
class ForTraining:
    """The accepted items as train-channel lines, and the digest that makes them part of the train key."""

    items: list[Item]
    lines: list[str]
    sha256: str

    def record(self) -> dict[str, Any]:
        """What the manifest keeps of them: how many, which ids, their digest."""
        return {"items": len(self.items), "ids": [item.id for item in self.items], "sha256": self.sha256}

    def channel(self, train: Path, dest: Path) -> Path:
        """Write the train channel to ``dest``: the prepared ``train`` rows, then these lines once each."""
        shutil.copyfile(train, dest)
        with dest.open("a", encoding="utf-8") as fh:
            fh.writelines(self.lines)
        return dest


def for_training(build_dir: Path, classes: list[str]) -> ForTraining:
    """The accepted items of ``build_dir``'s feedback whose label is one of ``classes`` (the data's label
    tokens), as train lines; FeedbackError when there are none (nothing is added unreviewed)."""
    from ml.labels import to_label
    from ml.preprocess import format_line, tokenize

    folder = folder_of(build_dir)
    tokens = {to_label(token): token for token in classes}
    chosen = accepted(folder, list(tokens))
    if not chosen:
        raise FeedbackError(
            f"no accepted feedback with this data's labels in {folder}: run `invoke feedback --review` first"
        )
    lines = [format_line(tokens[item.correct], " ".join(tokenize(item.text))) for item in chosen]
    return ForTraining(chosen, lines, hashlib.sha256("".join(lines).encode()).hexdigest())


def accuracy_on(model_bin: Path, fed: ForTraining) -> float:
    """The share of the accepted items a model labels as the person accepted: its feedback slice."""
    from ml.predict import Predictor

    gold = [line.split(" ", 1) for line in fed.lines]
    answers = Predictor(model_bin).predict([text.strip() for _, text in gold])
    right = sum(answer["label"][0] == label for answer, (label, _) in zip(answers, gold, strict=True))
    return round(right / len(gold), 4)

"""What the page shows of the deployed model: its labels' names, descriptions and example texts.

An optional ``labels.json`` beside the data (beside the file ``--data`` names, or in its folder; DBPedia's
is shipped as ``data/dbpedia-labels.json``) says it; every key is optional (docs/own-data.md, "The page")::

    {"noun": "topics", "intro": "…", "hint": "…", "placeholder": "…", "scope": "…",
     "footer": ["text", {"text": "link", "href": "https://…"}, "text"],
     "labels": {"<your label>": {"name": "…", "description": "…",
                                 "examples": ["a text", {"text": "a text", "caption": "button"}]}}}

Without it, each label's name is the label and up to ``EXAMPLES`` validation rows of labels spread over
the list are the example buttons. The page follows the model's class order for its list, and the order of
``labels.json``'s keys for its buttons. :func:`write` puts the result, ``page.json``, in the version's folder
at deploy time (as the vocabulary is); the local stack and Terraform render it into ``config.js``.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from ml import data
from ml.config import ROOT, ModelSettings
from ml.fsutil import write_json
from ml.labels import to_label
from ml.package import MANIFEST
from ml.readers import DataError

LABELS_FILE = "labels.json"
PAGE = "page.json"  # beside model.tar.gz in the version folder
DBPEDIA_LABELS = ROOT / "data" / "dbpedia-labels.json"  # not named labels.json: data/ holds other sets
EXAMPLES = 6  # example buttons drawn from the validation split when labels.json gives none
CAPTION_CHARS = 40
TEXTS = ("noun", "intro", "hint", "placeholder", "scope")


def labels_file(dataset: data.Dataset, settings: ModelSettings) -> Path | None:
    """The data's ``labels.json``: beside the file ``--data`` names, or in its folder; for DBPedia without
    one there, the shipped ``data/dbpedia-labels.json``."""
    given = Path(settings.data).expanduser()
    if settings.data not in ("auto", "sample", "full"):
        beside = (given if given.is_dir() else given.parent) / LABELS_FILE
        if beside.is_file():
            return beside
    return None if dataset.own is not None else DBPEDIA_LABELS


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where} must be a non-empty string")
    return value.strip()


def _example(value: Any, where: str, name: str) -> dict[str, str]:
    if isinstance(value, str):
        text = _text(value, where)
        return {"text": text, "caption": name}
    if not isinstance(value, dict) or set(value) - {"text", "caption"}:
        raise DataError(f'{where} must be a text or {{"text": "…", "caption": "…"}}')
    text = _text(value.get("text"), f"{where}.text")
    return {"text": text, "caption": _text(value.get("caption", name), f"{where}.caption")}


def read_labels_file(path: Path, labels: list[str]) -> dict[str, Any]:
    """The page ``path`` describes for a model of ``labels`` (the user's, in class order); DataError names
    the first problem in one line."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise DataError(f'{path}: must hold an object like {{"labels": {{"<label>": {{"name": "…"}}}}}}')
    if unknown := sorted(set(spec) - {*TEXTS, "footer", "labels"}):
        raise DataError(
            f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(TEXTS)}, footer, labels)"
        )
    page: dict[str, Any] = {key: _text(spec[key], f"{path}: {key}") for key in TEXTS if key in spec}
    if "footer" in spec:
        page["footer"] = _footer(spec["footer"], f"{path}: footer")
    described = spec.get("labels", {})
    if not isinstance(described, dict):
        raise DataError(f"{path}: labels must be an object keyed by label")
    if strange := [key for key in described if key not in labels]:
        shown = ", ".join(repr(label) for label in labels[:5]) + (", …" if len(labels) > 5 else "")
        raise DataError(f"{path}: {strange[0]!r} is not a label of the data (its labels: {shown})")
    entries, examples = {}, []
    for label, entry in described.items():
        where = f"{path}: labels.{label}"
        if not isinstance(entry, dict) or set(entry) - {"name", "description", "examples"}:
            raise DataError(f"{where} must be an object with name, description and examples")
        name = _text(entry.get("name", label), f"{where}.name")
        description = _text(entry["description"], f"{where}.description") if "description" in entry else ""
        entries[label] = {"name": name, "description": description}
        listed = entry.get("examples", [])
        if not isinstance(listed, list):
            raise DataError(f"{where}.examples must be a list")
        examples += [_example(v, f"{where}.examples[{i}]", name) for i, v in enumerate(listed)]
    page["labels"] = [
        {"label": label, **entries.get(label, {"name": label, "description": ""})} for label in labels
    ]
    page["examples"] = examples
    return page


def _footer(value: Any, where: str) -> list[Any]:
    parts = value if isinstance(value, list) else [value]
    for part in parts:
        link = (
            isinstance(part, dict)
            and set(part) == {"text", "href"}
            and str(part["href"]).startswith("https://")
        )
        if not (isinstance(part, str) or link):
            raise DataError(f'{where} must be texts and {{"text": "…", "href": "https://…"}} links')
    return parts


def drawn(labels: list[str], validation: list[data.Row]) -> dict[str, Any]:
    """The page without a labels.json: names are the labels, examples the first validation row of up to
    ``EXAMPLES`` labels spread over the list."""
    first: dict[int, data.Row] = {}
    for row in validation:
        first.setdefault(row.label, row)
    count = min(EXAMPLES, len(labels))
    chosen = sorted({i * len(labels) // count for i in range(count)})
    examples = []
    for i in chosen:
        if i in first:
            text = " ".join(first[i].text.split())
            examples.append({"text": text, "caption": labels[i][:CAPTION_CHARS]})
    return {
        "labels": [{"label": label, "name": label, "description": ""} for label in labels],
        "examples": examples,
    }


def describe(dataset: data.Dataset, settings: ModelSettings) -> dict[str, Any]:
    """The page of a model trained on ``dataset``: its labels.json, else drawn from the validation split."""
    labels = [to_label(token) for token in dataset.classes]
    path = labels_file(dataset, settings)
    if path is not None:
        return read_labels_file(path, labels)
    return drawn(labels, data.make_splits(dataset, settings).validation)


def write(folder: Path, page: dict[str, Any]) -> Path:
    """Write ``page.json`` into the version ``folder`` (it follows labels.json, so it may be rewritten)."""
    write_json(folder / PAGE, page)
    return folder / PAGE


def read(folder: Path, tokens: list[str]) -> dict[str, Any]:
    """The page of the version in ``folder``: its ``page.json``; else names are its labels, those of its
    manifest or (a folder without one) the model's ``tokens``."""
    with contextlib.suppress(OSError, ValueError):
        page = json.loads((folder / PAGE).read_text(encoding="utf-8"))
        if isinstance(page, dict) and isinstance(page.get("labels"), list):
            return page
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        tokens = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["labels"]
    labels = [to_label(token) for token in tokens]
    return {
        "labels": [{"label": label, "name": label, "description": ""} for label in labels],
        "examples": [],
    }


def label_names(folder: Path) -> list[str]:
    """The user's labels of the model in the version ``folder`` (its manifest's), in class order: the
    Lambda's ``LABELS``, which feedback must name."""
    tokens = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["labels"]
    return [to_label(token) for token in tokens]


def label_count(folder: Path) -> int:
    """How many labels the model in the version ``folder`` has (its manifest's): the Lambda's ``N_LABELS``."""
    return len(label_names(folder))

"""Inputs for the bulk classification tests: real texts, files of them, and another deployed model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ml.deploy import live_entry
from ml.fsutil import write_json
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON

DANUBE = "The Danube is the second-longest river in Europe, flowing through Vienna and Budapest."
NOVEL = "Pride and Prejudice is an 1813 novel of manners written by Jane Austen."
ALBUM = "Abbey Road is the eleventh studio album by the English rock band the Beatles, released in 1969."
TEXTS = [WALTER_JOHNSON, DANUBE, NOVEL, ALBUM]


def deploy_other_model(settings: Settings, sha256: str = "f" * 64) -> None:
    """Record another model as deployed (another checksum in the registry)."""
    entry = live_entry(settings)
    write_json(settings.endpoint_registry, {settings.endpoint_name: {**(entry or {}), "sha256": sha256}})


def write_jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def many(n: int) -> list[dict[str, Any]]:
    """``n`` distinct records with string ids."""
    return [{"id": f"doc-{i}", "text": f"{TEXTS[i % len(TEXTS)]} Item {i}."} for i in range(n)]

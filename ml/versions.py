"""Model versions: where they are stored, their approval, the quality gate, rollback (docs/rollout.md).

One design with docs/model-versions.md: a version is a finished folder ``build/model/versions/<id>/``
(``id``: the first 16 hex of its archive's sha256; its manifest, written last, immutable); its approval is
``approval.json`` beside the manifest (absent: pending), written atomically. Which version is live, and
which were live before it, is the deploy's (ml/deploy.py), so a rollback needs no training. On AWS the same
facts live in a SageMaker model package group (ml/aws/versions.py); this module holds what both targets
share, and :class:`Listed` is how either lists its versions.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.config import ModelSettings, log
from ml.errors import ProjectError
from ml.fsutil import file_digest, write_json
from ml.labels import to_label
from ml.package import ARCHIVE, MANIFEST

APPROVAL = "approval.json"
APPROVED, PENDING, REJECTED = "Approved", "PendingManualApproval", "Rejected"


class GateError(ProjectError):
    """A version may not be deployed: not approved, worse than the live one, or not comparable."""


@dataclass(frozen=True)
class Version:
    """A finished version: its id (16 hex of the archive's sha256), folder, manifest and approval."""

    id: str
    folder: Path
    manifest: dict[str, Any]
    approval: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.approval.get("status", PENDING))

    @property
    def archive(self) -> Path:
        return self.folder / ARCHIVE

    @property
    def test_accuracy(self) -> float:
        return float(self.manifest["metrics"]["test_accuracy"])

    @property
    def test_split(self) -> tuple[str, str] | None:
        """What the test accuracy was measured on: (data sha256, test file sha256); None if not recorded."""
        data = self.manifest.get("data", {})
        test = data.get("test_sha256")
        return (str(data.get("sha256")), str(test)) if test else None


Review = Callable[[Version], bool]  # shown a pending version, says whether to approve it (a person's prompt)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def versions_dir(settings: ModelSettings) -> Path:
    """Where the model versions live, one folder each (docs/model-versions.md)."""
    return settings.model_dir / "versions"


def version_folder(settings: ModelSettings, archive_sha256: str) -> Path:
    """The folder of the version whose model archive has this sha256: named by its first 16 digits."""
    return versions_dir(settings) / archive_sha256[:16]


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of the version in ``folder``; None when it has none (unfinished) or it is unreadable."""
    return _read(folder / MANIFEST)


def intact(folder: Path, manifest: dict[str, Any]) -> bool:
    """Whether the archive in ``folder`` is there and is the one its manifest describes."""
    archive = folder / ARCHIVE
    return archive.is_file() and manifest.get("model", {}).get("sha256") == file_digest(archive)


def find_trained(settings: ModelSettings, key: str) -> tuple[Path, dict[str, Any]] | None:
    """The finished version of this exact training whose archive is intact (folder, manifest), if any."""
    for path in sorted(versions_dir(settings).glob(f"*/{MANIFEST}")):
        manifest = read_manifest(path.parent)
        if manifest and manifest.get("train_key") == key and intact(path.parent, manifest):
            return path.parent, manifest
    return None


def place(settings: ModelSettings, archive: Path) -> tuple[Path, dict[str, Any] | None]:
    """Move a new archive into its version folder; return the folder and, when a finished version of
    these exact bytes is already there (left as it is: versions are immutable), its manifest."""
    folder = version_folder(settings, file_digest(archive))
    manifest = read_manifest(folder)
    if manifest is not None and intact(folder, manifest):
        log.info("this model is already version %s", folder)
        return folder, manifest
    shutil.rmtree(folder, ignore_errors=True)  # a damaged version of these bytes
    folder.mkdir()
    os.replace(archive, folder / ARCHIVE)
    return folder, None


def versions(versions_dir: Path) -> list[Version]:
    """Every finished version (a folder with a manifest), oldest first."""
    found = []
    for path in versions_dir.glob(f"*/{MANIFEST}") if versions_dir.is_dir() else []:
        manifest = _read(path)
        if manifest is not None:
            folder = path.parent
            found.append(Version(folder.name, folder, manifest, _read(folder / APPROVAL) or {}))
    return sorted(found, key=lambda v: ((v.folder / MANIFEST).stat().st_mtime, v.id))


def find(versions_dir: Path, version_id: str) -> Version:
    """The version whose id starts with ``version_id`` (at least 4 hex digits); GateError otherwise."""
    matches = [v for v in versions(versions_dir) if len(version_id) >= 4 and v.id.startswith(version_id)]
    if len(matches) != 1:
        known = ", ".join(v.id for v in versions(versions_dir)) or "none"
        what = "is ambiguous" if matches else "names no version"
        raise GateError(f"{version_id!r} {what}; versions: {known} (see `invoke models`)")
    return matches[0]


def set_approval(version: Version, status: str, note: str = "") -> dict[str, Any]:
    """Record who approved (or rejected) ``version`` and when; return the record."""
    record = {
        "status": status,
        "by": getpass.getuser(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if note:
        record["note"] = note
    write_json(version.folder / APPROVAL, record)
    return record


def check_gate(
    candidate: Version, live: tuple[str, float] | None, margin: float, unapproved_ok: bool
) -> None:
    """Refuse (GateError) a candidate that is not approved, or whose test accuracy is more than ``margin``
    below the live version's (``live``: its id and its accuracy on the candidate's test split, which
    ``ml.pipeline.gate`` makes sure of); the message names both figures."""
    if candidate.status != APPROVED and not unapproved_ok:
        raise GateError(
            f"version {candidate.id} is {candidate.status}: approve it with `invoke approve {candidate.id}` "
            "(or pass --allow-unapproved for development)"
        )
    if live is None or live[0] == candidate.id:
        return
    live_id, live_accuracy = live
    if candidate.test_accuracy < live_accuracy - margin:
        raise GateError(
            f"version {candidate.id} has test accuracy {candidate.test_accuracy:.4f}, the live version "
            f"{live_id} {live_accuracy:.4f} on the same test split: more than the margin {margin:g} worse; "
            "not deployed"
        )


def check_labels(candidate: Version, live: Version) -> None:
    """Refuse (GateError) to compare versions trained on different label sets: their accuracies measure
    different tasks, so no gate can say which is better; the message names both and what to do."""
    ours, theirs = candidate.manifest.get("labels", []), live.manifest.get("labels", [])
    if ours == theirs:
        return

    def named(labels: list[str]) -> str:
        shown = ", ".join(to_label(token) for token in labels[:4])
        return f"{len(labels)} labels: {shown}" + (", …" if len(labels) > 4 else "")

    raise GateError(
        f"version {candidate.id} was trained on other labels ({named(ours)}) than the live version "
        f"{live.id} ({named(theirs)}): the gate compares like with like only, so nothing was deployed; "
        "serve it on an endpoint of its own (--endpoint-name NAME)"
    )


def rollback_target(entry: dict[str, Any], all_versions: list[Version], unapproved_ok: bool) -> Version:
    """The newest version in the history that may be deployed; GateError when there is none."""
    by_id = {v.id: v for v in all_versions}
    for version_id in reversed(entry.get("history", [])):
        version = by_id.get(version_id)
        if version and version.id != entry.get("version") and (version.status == APPROVED or unapproved_ok):
            return version
    raise GateError("no earlier approved version to roll back to; name one with --to (see `invoke models`)")


@dataclass(frozen=True)
class Listed:
    """A version as ``invoke models`` lists it, on either target."""

    id: str
    created: datetime | None
    test_accuracy: float | None
    macro_f1: float | None
    approval: str  # the status, and who set it when known
    live: bool


def listed(all_versions: list[Version], live: str | None) -> list[Listed]:
    """The local versions as listed, oldest first; ``live`` is the live version's id."""
    rows = []
    for v in all_versions:
        metrics = v.manifest.get("metrics", {})
        created = datetime.fromtimestamp((v.folder / MANIFEST).stat().st_mtime, UTC)
        approval = v.status + (f" by {v.approval['by']}" if v.approval.get("by") else "")
        accuracy, macro_f1 = metrics.get("test_accuracy", 0), metrics.get("test_macro_f1", 0)
        rows.append(Listed(v.id, created, accuracy, macro_f1, approval, v.id == live))
    return rows

"""A version's deploy inputs in S3, beside its artifact, so that any machine can plan and apply the stack.

``invoke plan`` / ``invoke infra --target aws`` need, about the deployed model, what only the machine that
trained it had in ``build/``: its ``vocabulary.txt.gz`` (the Lambda zip ships it) and ``page.json`` (what
the page shows of its labels). ``invoke train --target aws`` uploads the version's ``model.tar.gz``,
``vocabulary.txt.gz``, ``page.json`` and ``manifest.json`` (hyperparameters, checksums, metrics, labels)
to ``s3://<bucket>/<s3_prefix>/models/<artifact sha256>/``, each with its sha256 in the object's metadata
(:func:`ml.aws.session.upload_if_changed`), names that folder in the model package (``deploy_inputs``) and
the store in the tfvars (``model_store_uri``). A fresh checkout (CI) then fetches them by the
``model_sha256`` the tfvars name, with ``s3:GetObject`` only (one GetObject a file, no listing), and checks
each: the archive's sha256 is ``model_sha256``, the vocabulary is that model's, the page is a page, the
manifest describes it. The files land in the version's folder (``build/model/versions/<sha16>/``, manifest
last), as if trained there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml import page, vocabulary
from ml.aws.session import split_s3_uri, upload_if_changed
from ml.errors import ProjectError
from ml.fsutil import atomic_path, file_digest
from ml.package import ARCHIVE, MANIFEST

MODELS = "models"  # under the project's S3 prefix
# Uploaded and fetched in this order: the manifest last (a version folder without one is unfinished).
FILES = {
    ARCHIVE: "application/gzip",
    vocabulary.VOCABULARY: "application/gzip",
    page.PAGE: "application/json",
    MANIFEST: "application/json",
}


class ModelStoreError(ProjectError):
    """A version's deploy inputs are missing from the store, unreadable, or not the model's."""


def version_uri(store: str, artifact_sha256: str) -> str:
    """``<store>/<artifact sha256>/``: the folder of one version's files."""
    return f"{store.rstrip('/')}/{artifact_sha256}/"


def store_of(deploy_inputs: str) -> str:
    """The store a version's folder URI is in (``""`` for ``""``)."""
    return deploy_inputs.rstrip("/").rsplit("/", 1)[0] if deploy_inputs else ""


def upload(s3: Any, folder: Path, store: str) -> str:
    """Upload a finished version folder's files (unchanged ones skipped by checksum); return its URI."""
    where = version_uri(store, file_digest(folder / ARCHIVE))
    for name, content_type in FILES.items():
        upload_if_changed(s3, folder / name, where + name, content_type)
    return where


def _download(s3: Any, uri: str, dest: Path, check: Callable[[Path], str | None]) -> None:
    """GetObject ``uri`` into ``dest``; ``check(tmp)`` returns why the file is not the one wanted, or None."""
    bucket, key = split_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "AccessDenied", "403"):
            raise ModelStoreError(
                f"cannot read {uri} ({code}): it is not there, or these credentials may not s3:GetObject it; "
                "`invoke train --target aws` uploads it (the CI plan and deploy roles need s3:GetObject "
                "on the project's models/ prefix)"
            ) from None
        raise
    with atomic_path(dest) as tmp:
        with tmp.open("wb") as fh:
            for chunk in body.iter_chunks(1 << 20):
                fh.write(chunk)
        wrong = check(tmp)
        if wrong:
            raise ModelStoreError(f"{uri} {wrong}: not fetched; run `invoke train --target aws` again")


def _checks(artifact_sha256: str) -> dict[str, Callable[[Path], str | None]]:
    """For each file, what says whether a copy of it belongs to the model ``artifact_sha256``."""

    def archive(path: Path) -> str | None:
        digest = file_digest(path)
        if digest == artifact_sha256:
            return None
        return f"has sha256 {digest}, not the model_sha256 {artifact_sha256} the tfvars name"

    def words(path: Path) -> str | None:
        if vocabulary.is_for(path, artifact_sha256):
            return None
        return f"is not the vocabulary of the model {artifact_sha256} (another model's, or an older format)"

    def manifest(path: Path) -> str | None:
        try:
            described = json.loads(path.read_text(encoding="utf-8"))["model"]["sha256"]
        except (ValueError, KeyError, TypeError):
            return "is not a version manifest"
        return (
            None
            if described == artifact_sha256
            else f"describes the model {described}, not {artifact_sha256}"
        )

    def shown(path: Path) -> str | None:
        try:
            labels = json.loads(path.read_text(encoding="utf-8"))["labels"]
        except (ValueError, KeyError, TypeError):
            return "is not a version's page (ml/page.py)"
        return None if isinstance(labels, list) else "is not a version's page (ml/page.py)"

    return {ARCHIVE: archive, vocabulary.VOCABULARY: words, page.PAGE: shown, MANIFEST: manifest}


def fetch(s3: Any, store: str, artifact_sha256: str, folder: Path) -> Path:
    """Fetch the version ``artifact_sha256`` from ``store`` into ``folder``, each file checked; return the
    folder. A file already there that passes its check is kept (and not downloaded).

    Raises:
        ModelStoreError: a file is missing or unreadable, or is not this model's (the message names it).
    """
    where = version_uri(store, artifact_sha256)
    for name, check in _checks(artifact_sha256).items():  # in FILES' order: the manifest last
        path = folder / name
        if not path.is_file() or check(path) is not None:
            _download(s3, where + name, path, check)
    return folder

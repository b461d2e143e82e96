"""Package and unpack ``model.tar.gz`` exactly as BlazingText writes it: one member, ``model.bin``.

An archive SageMaker wrote may name it ``./model.bin``: unpacking finds it by its base name.

The manifest (hyperparameters, data checksum, tokenizer, metrics) sits beside the archive as
``manifest.json`` in the model's version folder (docs/model-versions.md), so the archive itself stays
byte-compatible with a SageMaker training artifact.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path, PurePosixPath

from ml.errors import ProjectError
from ml.fsutil import atomic_path, brief, file_digest

MODEL_MEMBER = "model.bin"
ARCHIVE = "model.tar.gz"  # a version folder's archive
MANIFEST = "manifest.json"  # beside it, written last: a folder without one is an unfinished run


class ArtifactError(ProjectError):
    """A model archive is missing, unreadable, or lacks ``model.bin``."""


def pack(model_bin: Path, out: Path) -> Path:
    """Write ``out`` (``model.tar.gz``) holding ``model.bin``; same model bytes give the same archive."""
    info = tarfile.TarInfo(MODEL_MEMBER)
    info.size, info.mtime, info.mode = model_bin.stat().st_size, 0, 0o644
    with (
        atomic_path(out) as tmp,
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
        model_bin.open("rb") as src,
    ):
        tar.addfile(info, src)
    return out


def unpack(archive: Path, cache_root: Path) -> Path:
    """Extract ``model.bin`` once into ``cache_root/<sha256 prefix>/`` and return its path."""
    if not archive.is_file():
        raise ArtifactError(f"no model archive at {archive}; run `invoke train` first")
    target = cache_root / file_digest(archive)[:16] / MODEL_MEMBER
    if target.exists():
        return target
    try:
        with tarfile.open(archive, "r:*") as tar:
            member = model_member(tar)
            source = tar.extractfile(member)
            if source is None:
                raise KeyError(MODEL_MEMBER)
            with atomic_path(target) as tmp, tmp.open("wb") as fh:
                while block := source.read(1 << 20):
                    fh.write(block)
    except KeyError:
        raise ArtifactError(
            f"{archive} holds no {MODEL_MEMBER} (not a BlazingText supervised artifact)"
        ) from None
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        raise ArtifactError(f"{archive} is not a readable model archive ({brief(exc)})") from None
    return target


def model_member(tar: tarfile.TarFile) -> tarfile.TarInfo:
    """The regular file named ``model.bin`` by its base name (``./model.bin`` too); KeyError if none."""
    for member in tar.getmembers():
        if member.isfile() and PurePosixPath(member.name).name == MODEL_MEMBER:
            return member
    raise KeyError(MODEL_MEMBER)


def members(archive: Path) -> list[str]:
    """Names inside an archive (for tests and checks)."""
    with tarfile.open(fileobj=io.BytesIO(archive.read_bytes()), mode="r:*") as tar:
        return tar.getnames()

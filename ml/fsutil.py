"""Small file-system helpers: atomic writes, checksums and results kept beside their inputs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def brief(exc: BaseException) -> str:
    """The first line of an exception's message, for one-line errors (tarfile's span several lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0].rstrip(" :") if lines else type(exc).__name__


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success move it into place, on error remove it.

    Works for files and directories: a reader never sees a half-written output, and a crash leaves
    the previous version (or nothing) in place. The temporary entry is ``.<name>.<random>``: a killed
    process leaves it behind, and ``remove_temps`` clears it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)) / target.name
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def remove_temps(folder: Path, name: str = "*") -> list[Path]:
    """Remove what ``atomic_path`` left in ``folder`` for target ``name`` (any by default) when its process
    was killed; return what was removed.

    Only safe while no other process writes the same target there: callers run it before they write.
    """
    removed = sorted(folder.glob(f".{name}.*")) if folder.is_dir() else []
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


def write_text(target: Path, text: str) -> bool:
    """Write ``text`` atomically; return False (and touch nothing) when the file already holds it."""
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return False
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return True


def write_json(target: Path, data: Any) -> bool:
    """Write ``data`` as pretty, key-sorted JSON atomically; False when unchanged."""
    return write_text(target, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def file_digest(path: Path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def kept(path: Path, code: tuple[str, ...], compute: Callable[[], Any]) -> Any:
    """``compute()``'s JSON result, kept at ``path`` beside the inputs it was computed from and computed
    again only when the ``code`` it came from (the module files named) changed or nothing readable is kept.

    For what depends on prepared rows alone, not on a model: every version trained on the rows reuses it.
    """
    digest = hashlib.sha256(b"".join(Path(module).read_bytes() for module in code)).hexdigest()
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        if found["code"] == digest:
            return found["value"]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # nothing kept yet, or unreadable: computed below
    value = compute()
    write_json(path, {"code": digest, "value": value})
    return value

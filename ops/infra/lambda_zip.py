"""Build the Lambda deployment zip deterministically: same sources, same bytes, same hash.

Terraform's ``source_code_hash`` follows the zip, so a rebuild of unchanged sources must not look like a
change. Entries are sorted, timestamps fixed, permissions normalised, and only the handler's own modules
(``lambda/*.py``) go in, with the deployed model's vocabulary (``vocabulary.txt.gz``) when given: boto3 is
part of the Lambda runtime.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from ml.lambda_src import LAMBDA_DIR
from ml.vocabulary import VOCABULARY

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry


def lambda_sources(source_dir: Path = LAMBDA_DIR) -> list[Path]:
    """The files that belong in the zip: the top-level Python modules, sorted by name."""
    return sorted(p for p in source_dir.glob("*.py") if p.is_file())


def build_lambda_zip(out: Path, source_dir: Path = LAMBDA_DIR, vocabulary: Path | None = None) -> Path:
    """Write the zip to ``out`` atomically and return its path; rewrite only when the bytes change.

    ``vocabulary`` (a ``vocabulary.txt.gz``) goes in at the root under that name, beside the handler.
    """
    sources = lambda_sources(source_dir)
    if not any(p.name == "handler.py" for p in sources):
        raise FileNotFoundError(f"no handler.py in {source_dir}")
    members = [(p.name, p) for p in sources]
    if vocabulary is not None:
        members = sorted([*members, (VOCABULARY, vocabulary)])
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out.name, dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for name, path in members:
                info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (0o100644 & 0xFFFF) << 16
                info.create_system = 3  # unix, so the permission bits are honoured
                zf.writestr(info, path.read_bytes(), compresslevel=9)
        if out.exists() and out.read_bytes() == tmp.read_bytes():
            tmp.unlink()
        else:
            os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out

"""The model's vocabulary as the Lambda ships it: which tokens the model learned from.

``vocabulary.txt.gz`` sits beside the model archive in its version folder. It is gzip (fixed mtime, so
the same model gives the same bytes) of UTF-8 lines: a header naming the model archive's sha256 and the
tokenizer scheme, then fastText's ``get_words()`` sorted, one a line. The Lambda refuses a vocabulary
whose header names another model than its ``MODEL_SHA256`` (docs/unknown-text.md).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import fasttext

from ml.fsutil import atomic_path, file_digest
from ml.lambda_src import handler, text_tokenizer
from ml.package import unpack

VOCABULARY = "vocabulary.txt.gz"  # beside model.tar.gz; the same name at the Lambda zip's root


def path_for(archive: Path) -> Path:
    """Where the vocabulary of ``archive`` lives: beside it."""
    return archive.with_name(VOCABULARY)


def model_words(archive: Path, cache_root: Path) -> frozenset[str]:
    """The words of the ``model.bin`` in ``archive`` (its input vocabulary, without labels)."""
    model = fasttext.load_model(str(unpack(archive, cache_root)))
    return frozenset(model.get_words())


def encode(words: frozenset[str], model_sha256: str, tokenizer: str) -> bytes:
    """The file's bytes: the header the Lambda checks, then the sorted words (deterministic gzip)."""
    text = handler().vocabulary_header(model_sha256, tokenizer) + "".join(f"{w}\n" for w in sorted(words))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return out.getvalue()


def ensure(archive: Path, cache_root: Path) -> Path:
    """Derive the vocabulary of ``archive`` beside it unless it is there for these exact model bytes."""
    target, sha256, scheme = path_for(archive), file_digest(archive), text_tokenizer().SCHEME
    if target.is_file():
        with gzip.open(target, "rt", encoding="utf-8") as fh:
            if fh.readline() == handler().vocabulary_header(sha256, scheme):
                return target
    with atomic_path(target) as tmp:
        tmp.write_bytes(encode(model_words(archive, cache_root), sha256, scheme))
    return target


def lambda_environment(archive: Path) -> dict[str, str]:
    """What the Lambda needs to find and trust the vocabulary of ``archive`` (the local stack sets it)."""
    return {"VOCABULARY_FILE": str(path_for(archive)), "MODEL_SHA256": file_digest(archive)}

"""Bulk classification's output: one JSON line per text, written resumably, with its provenance.

Output, one line per input text (``ml/records.py``) and in input order: ``{"id", "label", "probability",
"top": [{"label", "probability"}, …]}``; a text with no word to classify gets ``"label": null`` and an
``error``. Lines are appended to ``OUTPUT.partial`` and the finished file is renamed to ``OUTPUT``; a run
that stops early resumes from the partial file's complete lines.

Provenance: ``FILE.key`` beside ``OUTPUT.partial`` and ``OUTPUT`` records what made the file (the input's
sha256 and how it was read, ``k``, the tokenizer and the model; for ``OUTPUT`` also its own sha256). A
partial file of another provenance is discarded; an ``OUTPUT`` of this provenance means nothing to do; any
other ``OUTPUT`` is refused unless ``force``. An output that is the input (or a file beside it that classify
writes) is refused before anything is written. Who answers (the local endpoint, a Batch Transform job)
is the callers' business: ``ops/local/bulk.py`` and ``ml/aws/transform.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ml.config import log
from ml.fsutil import file_digest, write_json, write_text
from ml.lambda_src import contract, text_tokenizer
from ml.records import ClassifyError, InputSpec, Record, id_key, input_format, read_input

NO_WORDS = "the text has no words to classify"


@dataclass(frozen=True)
class Provenance:
    """What an output is made of, recorded in its ``.key`` file."""

    input_sha256: str  # the input file's bytes
    format: str  # how it was read (auto resolved), with the columns named
    text_column: str | None
    id_column: str | None
    k: int
    tokenizer: str
    model: str  # local: the deployed archive's sha256; aws: the SageMaker model the endpoint serves
    explain_words: int = 0  # --explain: the most first words each line's explanation weighs (0: none)


# how a refusal names a Provenance field that differs
_FIELD_NAMES = {
    "input_sha256": "input",
    "format": "--format",
    "text_column": "--text-column",
    "id_column": "--id-column",
    "k": "k",
    "tokenizer": "tokenizer",
    "model": "model",
    "explain_words": "--explain",
}
_UNRECORDED = {"explain_words": 0}  # what a key written before the field existed means


@dataclass(frozen=True)
class Summary:
    """What a run did."""

    output: Path
    total: int  # lines in OUTPUT
    classified: int  # texts classified by this run
    resumed: int  # lines kept from an interrupted run
    seconds: float
    up_to_date: bool  # OUTPUT was already complete: nothing was done


def result_line(record_id: str | int, prediction: dict[str, Any] | None) -> dict[str, Any]:
    """One output line from a BlazingText prediction ``{"label": [...], "prob": [...]}`` (None: no words).

    Labels and probabilities are read exactly as the Lambda reads them (``contract.read_prediction``).
    """
    if prediction is None:
        return {"id": record_id, "label": None, "probability": None, "top": [], "error": NO_WORDS}
    try:
        top = contract.read_prediction(prediction)
    except ValueError as exc:
        raise ClassifyError(f"unreadable prediction for id {record_id!r}: {exc}") from None
    return {"id": record_id, "label": top[0]["label"], "probability": top[0]["probability"], "top": top}


def partial_path(output: Path) -> Path:
    """Where an unfinished run writes: ``OUTPUT.partial``."""
    return output.with_name(output.name + ".partial")


def key_path(path: Path) -> Path:
    """The provenance of ``path`` (``OUTPUT`` or ``OUTPUT.partial``): ``path.key``."""
    return path.with_name(path.name + ".key")


def read_key(path: Path) -> dict[str, Any] | None:
    """The provenance recorded for ``path``; None when there is none or it is unreadable."""
    try:
        key = json.loads(key_path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return key if isinstance(key, dict) else None


def not_made_by(output: Path, provenance: Provenance) -> str | None:
    """Why the existing ``output`` is not the finished result of ``provenance``; None when it is."""
    key = read_key(output)
    if key is None:
        return f"no {key_path(output).name} says what made it"
    differ = [
        _FIELD_NAMES[name]
        for name, value in asdict(provenance).items()
        if key.get(name, _UNRECORDED.get(name)) != value
    ]
    if differ:
        return f"it was made with another {', '.join(differ)}"
    if key.get("output_sha256") != file_digest(output):
        return "it was changed after it was written"
    return None


def is_complete(output: Path, provenance: Provenance) -> bool:
    """True when ``output`` is the file a run of ``provenance`` finished, byte for byte."""
    return output.is_file() and not_made_by(output, provenance) is None


def check_output(source: Path, output: Path) -> None:
    """Refuse an output that is a directory, or that is (or writes beside it) the input itself."""
    if output.is_dir():
        raise ClassifyError(f"output {output} is a directory: name a file to write the results to")
    parent = next(p for p in output.absolute().parents if p.exists())
    if not parent.is_dir():
        raise ClassifyError(f"output {output} cannot be created: {parent} is a file, not a directory")
    if not source.exists():
        return  # read_input says so
    for written in (output, key_path(output), partial_path(output), key_path(partial_path(output))):
        if written.exists() and os.path.samefile(source, written):
            beside = "" if written == output else f" (classify writes {written.name} beside {output})"
            raise ClassifyError(f"{written} is the input file {source}{beside}: name another output file")


def finish(output: Path, provenance: Provenance) -> None:
    """Publish the complete ``OUTPUT.partial`` as ``OUTPUT``, its key (with its sha256) written first.

    A crash between the two leaves an ``OUTPUT.key`` that does not match ``OUTPUT``'s bytes: never trusted.
    """
    partial = partial_path(output)
    write_json(key_path(output), {**asdict(provenance), "output_sha256": file_digest(partial)})
    os.replace(partial, output)
    key_path(partial).unlink(missing_ok=True)


def resume(partial: Path, provenance: Provenance) -> set[str]:
    """The ids already in ``partial`` when its key is ``provenance`` (its last incomplete line is dropped)."""
    if not partial.exists():
        return set()
    if read_key(partial) != asdict(provenance):
        log.info("%s belongs to another input, model or settings: starting over", partial)
        partial.unlink()
        return set()
    done: set[str] = set()
    good = 0
    with partial.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):  # cut short by the interruption
                break
            try:
                done.add(id_key(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                break
            good += len(line)
    with partial.open("r+b") as fh:
        fh.truncate(good)
    log.info("resuming: %d texts already classified in %s", len(done), partial)
    return done


def start(
    source: Path,
    output: Path,
    spec: InputSpec,
    k: int,
    model: Callable[[], str],
    force: bool,
    explain_words: int = 0,
) -> tuple[list[Record], Provenance, bool]:
    """Check the output, read the input, ask ``model`` who answers; say whether ``output`` is done already.

    The output and the input are checked before ``model`` is called (it may call AWS).

    Raises:
        ClassifyError: unreadable input, or an output that is refused (``force`` replaces one).
    """
    check_output(source, output)
    records = read_input(source, spec)
    provenance = Provenance(
        input_sha256=file_digest(source),
        format=input_format(source, spec),
        text_column=spec.text_column,
        id_column=spec.id_column,
        k=k,
        tokenizer=text_tokenizer().SCHEME,
        model=model(),
        explain_words=explain_words,
    )
    if not force and is_complete(output, provenance):
        log.info("%s already holds every text of %s: nothing to do", output, source)
        return records, provenance, True
    if not force and output.exists():
        raise ClassifyError(
            f"{output} exists but is not the result of this run ({not_made_by(output, provenance)}): "
            "pass --force to replace it, or delete it"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    return records, provenance, False


def publish(output: Path, provenance: Provenance, lines: list[dict[str, Any]]) -> None:
    """Write a whole run's ``lines`` as ``OUTPUT`` the way a local run finishes (key first, then rename)."""
    partial = partial_path(output)
    write_json(key_path(partial), asdict(provenance))  # first: no key ever describes another's lines
    write_text(partial, contract.dump_json_lines(lines))
    finish(output, provenance)

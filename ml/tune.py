"""``invoke tune --target local``: fastText autotune on the validation split, saved under BlazingText names.

fastText's autotune (``autotuneValidationFile``, ``autotuneDuration``) searches ``epoch``, ``lr``, ``dim``,
``wordNgrams`` and ``bucket`` from its own starting point (an argument passed explicitly would stay fixed);
``min_count`` and the rest come from the current hyperparameters. Character n-grams (``minn`` / ``maxn``)
and the loss (softmax) are pinned, because BlazingText's supervised mode has neither. The search runs in a
child process whose address space is capped (``MEMORY_LIMIT``): a trial asking for a huge model fails to
allocate and autotune skips it. The winner is mapped back to BlazingText's names, clamped into ``RANGES``
(the same ranges the SageMaker tuning job searches) and then retrained with the project's own trainer; it
is written to the hyperparameters file only if it beats the current hyperparameters on validation accuracy.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ml import train
from ml.config import ModelSettings, log
from ml.errors import ProjectError
from ml.fsutil import write_json
from ml.hyperparameters import Hyperparameters

# BlazingText name -> (low, high). Local autotune results are clamped into these; the SageMaker tuning job
# searches them. Why they differ from AWS's recommended ranges: docs/tuning.md.
RANGES: dict[str, tuple[float, float]] = {
    "epochs": (5, 50),
    "learning_rate": (0.01, 1.0),
    "vector_dim": (10, 40),
    "word_ngrams": (1, 3),
    "min_count": (1, 50),
    "buckets": (100_000, 1_000_000),
}
# What autotune searches, under BlazingText's names (min_count it does not search).
SEARCHED = ("epochs", "learning_rate", "vector_dim", "word_ngrams", "buckets")
MEMORY_LIMIT = 3 << 30  # bytes of address space for the autotune process
RESULT_FILE = "tune.json"


@dataclass(frozen=True)
class TuneResult:
    """What a tuning run found, and whether it changed the hyperparameters file."""

    current: Hyperparameters
    tuned: Hyperparameters
    current_accuracy: float
    tuned_accuracy: float
    written: bool
    details: dict[str, Any]

    @property
    def winner(self) -> Hyperparameters:
        """The hyperparameters that are in the file after the run."""
        return self.tuned if self.written else self.current

    @property
    def summary(self) -> str:
        """What the search found, in words (as ``invoke tune`` shows it)."""
        return f"validation accuracy: tuned {self.tuned_accuracy:.4f}, current {self.current_accuracy:.4f}"


def clamp(values: dict[str, Any], base: Hyperparameters) -> Hyperparameters:
    """``base`` with ``values`` (BlazingText names) clamped into ``RANGES`` and cast to the field types."""
    unknown = sorted(set(values) - set(RANGES))
    if unknown:
        raise ValueError(f"not tunable: {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    for f in fields(Hyperparameters):
        if f.name in values:
            low, high = RANGES[f.name]
            value = min(max(float(values[f.name]), low), high)
            changes[f.name] = float(f"{value:.3g}") if f.type in ("float", float) else round(value)
    return replace(base, **changes)


def from_fasttext(args: dict[str, Any], base: Hyperparameters) -> Hyperparameters:
    """fastText's chosen arguments under BlazingText's names, clamped into ``RANGES``.

    Word n-grams of 1 need no hash buckets, so fastText reports ``bucket`` 0 then; ``base``'s is kept.
    """
    values = {
        name: args[train.FASTTEXT_NAMES[name]] for name in SEARCHED if train.FASTTEXT_NAMES[name] in args
    }
    if not args.get("bucket"):
        values.pop("buckets", None)
    return clamp(values, base)


def write_hyperparameters(path: Path, hp: Hyperparameters) -> None:
    """Write ``hp`` to the hyperparameters file, atomically (keys sorted, so diffs stay small)."""
    write_json(path, asdict(hp))


def _autotune_child(
    train_path: str, validation_path: str, args: dict[str, Any], duration: int, out: Any
) -> None:
    """In the child process: cap memory, run autotune, send back the chosen arguments (or the error)."""
    import fasttext

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # fastText's own progress line; the parent shows a bar
    try:
        model = fasttext.train_supervised(
            input=train_path,
            autotuneValidationFile=validation_path,
            autotuneDuration=duration,
            verbose=0,
            **args,
        )
        chosen = model.f.getArgs()
        searched = [train.FASTTEXT_NAMES[name] for name in SEARCHED]
        out.send({name: getattr(chosen, name) for name in (*searched, "minn", "maxn")})
    except Exception as exc:  # reported by the parent as a TuneError
        out.send({"error": f"{type(exc).__name__}: {exc}"})


class TuneError(ProjectError):
    """Autotune could not produce a result; the message says why."""


def autotune(
    train_path: Path, validation_path: Path, hp: Hyperparameters, settings: ModelSettings
) -> dict[str, Any]:
    """Run fastText autotune for ``settings.tune_duration`` seconds with a progress bar; its chosen args."""
    start_args = {
        **train.fasttext_args(hp, settings.threads, settings.seed),
        "minn": 0,  # pinned: BlazingText supervised has no character n-grams
        "maxn": 0,
    }
    # Set explicitly, autotune would keep them fixed: let it search these from its own starting point.
    for name in SEARCHED:
        start_args.pop(train.FASTTEXT_NAMES[name])
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_autotune_child,
        args=(str(train_path), str(validation_path), start_args, settings.tune_duration, send),
    )
    child.start()
    started = time.monotonic()
    with tqdm(total=settings.tune_duration, desc="fastText autotune", unit="s", disable=None) as bar:
        while child.is_alive() and not receive.poll(0.5):
            elapsed = min(settings.tune_duration, int(time.monotonic() - started))
            bar.update(elapsed - bar.n)
            if elapsed >= settings.tune_duration:
                bar.set_postfix_str("retraining the best trial")
        bar.update(settings.tune_duration - bar.n)
    result = receive.recv() if receive.poll(1) else {"error": f"the autotune process died ({child.exitcode})"}
    child.join()
    if "error" in result:
        raise TuneError(f"fastText autotune failed: {result['error']}")
    return result


def tune(settings: ModelSettings) -> TuneResult:
    """Autotune on the prepared validation split; write the winner to ``settings.hyperparameters_file``."""
    from ml.pipeline import prepare_data

    _, prepared = prepare_data(settings)
    current = settings.hyperparameters
    log.info("fastText autotune for %d s on %s", settings.tune_duration, prepared.path("validation"))
    chosen = autotune(prepared.path("train"), prepared.path("validation"), current, settings)
    tuned = from_fasttext(chosen, current)
    log.info("autotune chose %s -> BlazingText %s", chosen, tuned.as_blazingtext())

    scratch = settings.build_dir / "tune"
    accuracy = {}
    for name, hp in (("current", current), ("tuned", tuned)):
        result = train.train(
            prepared.path("train"),
            prepared.path("validation"),
            scratch / f"{name}.bin",
            hp,
            settings.threads,
            settings.seed,
        )
        accuracy[name] = result.validation_accuracy
    written = tuned != current and accuracy["tuned"] > accuracy["current"]
    if written:
        write_hyperparameters(settings.hyperparameters_file, tuned)
    details = {
        "duration_seconds": settings.tune_duration,
        "fasttext_autotune_args": chosen,
        "current": {"hyperparameters": asdict(current), "validation_accuracy": accuracy["current"]},
        "tuned": {"hyperparameters": asdict(tuned), "validation_accuracy": accuracy["tuned"]},
        "written_to": str(settings.hyperparameters_file) if written else None,
    }
    write_json(scratch / RESULT_FILE, details)
    log.info(
        "validation accuracy: tuned %.4f, current %.4f -> %s",
        accuracy["tuned"],
        accuracy["current"],
        f"wrote {settings.hyperparameters_file}" if written else "kept the current hyperparameters",
    )
    return TuneResult(current, tuned, accuracy["current"], accuracy["tuned"], written, details)

"""BENCHMARKS.md's speed section and issue 29's bulk and tokenizer goals (figures: ``ops.bench.speed``)."""

from __future__ import annotations

from typing import Any

from ml.tables import markdown_table

# issue 29: bulk against in-process tokenize + predict on all cores; the tokenizer against the one it replaced
BULK_GOAL, TOKENIZER_GOAL = 0.70, 2.0


def status(ok: bool | None) -> str:
    """A goal's status column."""
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def render_speed(sp: dict[str, Any] | None) -> list[str]:
    """The speed section: tokenizer, in-process bound, `invoke classify` at each batch size."""
    if not sp:
        return []
    tok, inp, bulk = sp["tokenizer"], sp["inprocess"], sp["bulk"]
    rows = [
        (
            c["batch"],
            c["workers"],
            c["seconds"],
            f"{c['docs_per_second']:,}",
            f"{c['docs_per_second'] / inp['all_cores']:.0%}",
            c.get("first_batch_seconds", ""),
            _after_first(c, inp["all_cores"]),
            "default" if c["default"] else "",
        )
        for c in bulk["cases"]
    ]
    best = max(bulk["cases"], key=lambda c: c["docs_per_second"])
    return [
        "## Bulk classification and the tokenizer",
        "",
        f"On {sp['texts']:,} real texts ({bulk['distinct_texts']:,} distinct: title + content of the train "
        f"rows), medians of {sp['repeats']} runs:",
        "",
        f"- Tokenizer (`lambda/text_tokenizer.py`), one core: {tok['current']:,} docs/s against "
        f"{tok['reference']:,} for the one it replaced (`ops/bench/reference_tokenizer.py`, the tests' "
        f"oracle), on {tok['texts']:,} of the texts: **{tok['speedup']}×**, the same tokens.",
        f"- In-process tokenize + predict (k = {inp['k']}, batches of {inp['batch']}, no HTTP): "
        f"{inp['one_core']:,} docs/s on one core, **{inp['all_cores']:,} docs/s** with one process per "
        f"core ({inp['cores']}): what the machine can do.",
        "",
        "`invoke classify` (target local, its default worker processes) in a process of its own beside one "
        "endpoint process, timed from reading the input to the renamed output:",
        "",
        markdown_table(
            (
                "texts / request",
                "worker processes",
                "seconds",
                "docs/s",
                "of all cores",
                "first batch on disk (s)",
                "docs/s after it (of all cores)",
                "",
            ),
            rows,
        ),
        "",
        f"At {best['docs_per_second']:,} docs/s a million texts take "
        f"{_million_minutes(best):.0f} minutes on this machine (start-up once, then its rate after the first "
        "batch).",
        "",
    ]


def _million_minutes(case: dict[str, Any]) -> float:
    """Minutes a million texts take at ``case``'s start-up and rate after it (its whole-run rate if none)."""
    rate = case.get("after_first_docs_per_second")
    if not rate:
        return 1e6 / case["docs_per_second"] / 60
    return (case["first_batch_seconds"] + (1e6 - case["batch"]) / rate) / 60


def _after_first(case: dict[str, Any], bound: int) -> str:
    """The run's rate once its first batch is on disk (start-up behind it), and its share of ``bound``."""
    rate = case.get("after_first_docs_per_second")
    return f"{rate:,} ({rate / bound:.0%})" if rate else ""


def speed_goals(sp: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """Issue 29.1 and 29.2's rows: bulk against the machine, the tokenizer against the reference."""
    bulk_goal = f"`invoke classify` ≥ {BULK_GOAL:.0%} of in-process tokenize + predict on all cores"
    tokenizer_goal = f"tokenizer ≥ {TOKENIZER_GOAL:.0f}× the one it replaced, the same tokens"
    if not sp:
        return [(bulk_goal, "not run", status(None)), (tokenizer_goal, "not run", status(None))]
    tok, bound = sp["tokenizer"], sp["inprocess"]["all_cores"]
    default = next(c for c in sp["bulk"]["cases"] if c["default"])
    ratio = default["docs_per_second"] / bound
    return [
        (
            bulk_goal,
            f"{ratio:.0%} ({default['docs_per_second']:,} vs {bound:,} docs/s; default batch of "
            f"{default['batch']}, {default['workers']} worker processes; after its first batch, on disk at "
            f"{default.get('first_batch_seconds')} s: {_after_first(default, bound) or 'n/a'})",
            status(ratio >= BULK_GOAL),
        ),
        (
            tokenizer_goal,
            f"{tok['speedup']}× ({tok['current']:,} vs {tok['reference']:,} docs/s, one core)",
            status(tok["speedup"] >= TOKENIZER_GOAL),
        ),
    ]

"""Visitors' feedback: what came in (`invoke feedback`), a person's review of it (`invoke feedback --review`:
invoke cannot take an optional word after a task, so the issue's `feedback review` is a flag);
`invoke train --with-feedback` adds what they accepted to the train rows (docs/feedback.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Context

from commands.cli import VERBOSE, cli_errors, settings_task
from ml import feedback as fb
from ops.settings import Settings
from ops.targets import select

KEYS = {"a": "accept", "r": "reject"}


@settings_task(
    "target",
    iterable=["accept", "reject"],
    help={
        "review": "accept or reject each item not reviewed yet (a terminal asks; else --accept / --reject ID "
        "and the list of what is left); without it: counts per predicted -> correct pair, the newest texts",
        "accept": "accept this item id (a review without --review; repeat the flag for more)",
        "reject": "reject this item id (a review without --review; repeat the flag for more)",
        "newest": "how many of the newest texts the summary shows",
        **VERBOSE,
    },
)
def feedback(
    c: Context,
    s: Settings,
    review: bool = False,
    accept: list[str] | None = None,
    reject: list[str] | None = None,
    newest: int = 5,
    verbose: bool = False,
) -> None:
    """Download and summarise visitors' feedback, or review it: only accepted items ever enter training."""
    folder = fb.folder_of(s.build_dir)
    with cli_errors():
        collected = select(s).collect_feedback(s, folder)
        if collected:
            print(collected)
        if not (review or accept or reject):  # a decision given is a review, never silently dropped
            print(fb.summary_text(fb.summary(folder, newest)))
            return
        decisions = [(i, "accept") for i in accept or []] + [(i, "reject") for i in reject or []]
        for item_id, decision in decisions:
            fb.decide(folder, item_id, decision)
        if decisions or not sys.stdin.isatty():
            left = fb.unreviewed(folder)
            print(f"{len(decisions)} decisions recorded; {len(left)} items not reviewed.")
            for item in left:
                print(f"  {item.id}  {item.predicted} -> {item.correct}: {item.text[:100]}")
            return
        _ask(folder)


def _ask(folder: Path) -> None:
    """Ask about each unreviewed item in the terminal; q stops, keeping what was decided."""
    for item in fb.unreviewed(folder):
        print(f"\n{item.received}  the model said {item.predicted!r}; the visitor says {item.correct!r}:")
        print(f"  {item.text}")
        answer = input("[a]ccept, [r]eject, [s]kip, [q]uit? ").strip().lower()[:1]
        if answer == "q":
            break
        if answer in KEYS:
            fb.decide(folder, item.id, KEYS[answer])
    print(f"{len(fb.unreviewed(folder))} items not reviewed.")

"""Tasks: `invoke --list` shows them; `invoke --help TASK` shows every flag.

Every task is a thin shell over plain functions in ``ml/`` and ``ops/``, written in ``commands/`` (one
module per group); on either target it calls the same names, the target being chosen once
(``ops/targets.py``). Settings come from ``ops/settings.py`` (defaults, then ``DBP_*`` environment variables,
then these flags; ``commands/cli.py`` makes the flags).
"""

from commands.feedback import feedback
from commands.maintainers import (
    bench,
    corpora,
    explanations,
    lint,
    mutate,
    sample,
    sweep,
    test,
    unknown_text,
)
from commands.model import approve, classify, evaluate, models, preflight, rollback, train, tune
from commands.stack import destroy, infra, plan, rehearse, smoke, up

__all__ = [
    "approve",
    "bench",
    "classify",
    "corpora",
    "destroy",
    "evaluate",
    "explanations",
    "feedback",
    "infra",
    "lint",
    "models",
    "mutate",
    "plan",
    "preflight",
    "rehearse",
    "rollback",
    "sample",
    "smoke",
    "sweep",
    "test",
    "train",
    "tune",
    "unknown_text",
    "up",
]

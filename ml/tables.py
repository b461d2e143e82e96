"""The one Markdown table renderer of every report (evaluation, benchmarks, sweep, plan, cost)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from tabulate import tabulate

Align = Literal["left", "right", "center"]


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], align: Sequence[Align] | None = None
) -> str:
    """A GitHub Markdown (pipe) table, columns padded, no trailing newline.

    Cells are printed as given (``str``), never re-parsed as numbers, so callers format figures
    themselves; ``align`` gives each column's alignment (default: all left).
    """
    return tabulate(
        [list(row) for row in rows],
        headers=list(headers),
        tablefmt="pipe",
        disable_numparse=True,
        colalign=align,
    )

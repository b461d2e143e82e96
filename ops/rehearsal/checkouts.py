"""The checkouts a rehearsal works in: fresh clones of the repository, as each actor of a team has one.

The ML engineer's laptop and each workflow's runner start from a clone of the committed HEAD, without
``build/`` and without anyone else's files. A clone shares this checkout's virtual environment (``.venv``,
a link), so ``./dev`` in it installs nothing: the rehearsal tests the steps, not the installer, which
``.ci/run`` exercises on every fresh clone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ml.errors import ProjectError


class CheckoutError(ProjectError):
    """A clone could not be made."""


def fresh_clone(root: Path, dest: Path) -> Path:
    """Clone ``root``'s committed HEAD into ``dest`` (no build/, no untracked files) and link its venv."""
    done = subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(root), str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CheckoutError(f"git clone of {root} failed: {done.stderr.strip()}")
    (dest / ".venv").symlink_to(root / ".venv", target_is_directory=True)
    return dest


def head(checkout: Path) -> str:
    """The commit a checkout is at."""
    done = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()

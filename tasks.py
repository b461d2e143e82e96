"""Tasks: `invoke --list` shows them; `invoke --help TASK` shows every flag."""

from invoke import task  # noqa: F401

# --- infrastructure (terraform) ---------------------------------------------------------------

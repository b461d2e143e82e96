"""The command line's plumbing: tasks with one short-flag policy, flags whose type, bounds, default and help
come from the settings' declarations (ops/settings.py), expected failures as one line, the target switch.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import invoke
from invoke.exceptions import Exit
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ml.config import ENV_PREFIX, ROOT, number_text
from ml.errors import ProjectError
from ml.hyperparameters import HYPERPARAMETER_NAMES
from ops.settings import Settings, declaration, load_settings

if TYPE_CHECKING:
    from ops.targets import Target

VERBOSE = {"verbose": "debug logging"}


def task(*args: Any, **kwargs: Any) -> Any:
    """``invoke.task`` with the project's one short-flag policy: long flags, plus ``-v`` for ``--verbose``.

    A one-letter parameter (``-k``, ``-x``) is its own short flag; no other short flag is made up.
    """
    return invoke.task(*args, klass=ProjectTask, auto_shortflags=False, **kwargs)


class ProjectTask(invoke.Task):
    """A task whose ``verbose`` flag is also ``-v``."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        """Invoke's options for one argument, with ``-v`` added to ``--verbose``."""
        opts = super().arg_opts(name, default, taken_names)
        if name == "verbose":
            opts["names"] = [*opts["names"], "v"]
        return opts


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the project's expected failures into a one-line message and exit code 1, no traceback."""
    try:
        yield
    except ProjectError as exc:
        raise Exit(f"error: {exc}", code=1) from None
    except OSError as exc:
        raise Exit(
            f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", code=1
        ) from None


def flag(name: str) -> str:
    """How a parameter is typed on the command line: ``-k``, ``--batch-size``."""
    return f"-{name}" if len(name) == 1 else "--" + name.replace("_", "-")


def settings_task(
    *names: str, aliases: Mapping[str, str] | None = None, fixed: Mapping[str, Any] | None = None, **kw: Any
) -> Callable[[Callable[..., None]], Any]:
    """A task whose flags ``names`` (and ``aliases``: flag → setting) come from the settings' declarations.

    The flags' type, bounds, default and help are those of the settings' declarations; the body is called
    as ``body(c, settings, **its own parameters)`` with the settings loaded (``fixed`` ones forced), and a
    bad value ends the task with one line naming the flag or variable the user gave.
    """
    to_setting = {**{n: n for n in names}, **(aliases or {})}

    def wrap(body: Callable[..., None]) -> Any:
        own = list(inspect.signature(body).parameters.values())
        context, own = own[0], own[2:]  # (c, s, *own)
        taken = {p.name for p in own}
        extra = [
            inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY, default=None)
            for f in to_setting
            if f not in taken
        ]
        signature = inspect.Signature([context, *own, *extra])

        @functools.wraps(body)
        def run(*args: Any, **kwargs: Any) -> None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
            c = values.pop(context.name)
            overrides = {to_setting[f]: values.pop(f) for f in list(values) if f in to_setting}
            setup_logging(bool(values.get("verbose")))
            flags = {setting: flag(f) for f, setting in to_setting.items()}
            with cli_errors():
                s = load_settings(flags, **overrides, **(fixed or {}))
            body(c, s, **values)

        run.__signature__ = signature  # type: ignore[attr-defined]
        helps = {f: describe(setting) for f, setting in to_setting.items()}
        return task(run, help={**helps, **kw.pop("help", {})}, **kw)

    return wrap


def _bounds(info: FieldInfo) -> str:
    limits = {
        key: getattr(item, key)
        for item in info.metadata
        for key in ("ge", "gt", "le", "lt")
        if getattr(item, key, None) is not None
    }
    if "ge" in limits and "le" in limits:
        return f"{number_text(limits['ge'])}..{number_text(limits['le'])}"
    words = {"ge": "at least", "gt": "above", "le": "at most", "lt": "below"}
    return ", ".join(f"{words[key]} {number_text(value)}" for key, value in limits.items())


def describe(name: str) -> str:
    """Help text for a setting, all from its declaration: what, bounds or choices, default, variable."""
    info = declaration(name)
    default = info.default if info.default is not PydanticUndefined else None
    choices = get_args(info.annotation) if getattr(info.annotation, "__origin__", None) is Literal else ()
    parts = [", ".join(choices) if choices else _bounds(info)]
    if name in HYPERPARAMETER_NAMES:
        parts.append(
            f"default {_shown(default)}, or {Settings.model_fields['hyperparameters_file'].default.name}"
        )
    elif name != "threads":
        parts.append(f"default {_shown(default)}")
    else:
        parts.append("default: all cores")
    parts.append(f"env {ENV_PREFIX}{name.upper()}")
    return f"{info.description} ({'; '.join(p for p in parts if p)})"


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Path):
        try:
            return str(value.relative_to(ROOT))
        except ValueError:
            return str(value)
    if value == "":
        return "none"
    return f"{value:,}".replace(",", "") if isinstance(value, int) else str(value)


def setup_logging(verbose: bool = False) -> None:
    """Log ``HH:MM:SS level message`` lines to stderr (DEBUG with ``verbose``)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("botocore", "boto3", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def check_first(s: Settings, command: str) -> Target:
    """The target ``s`` names, its preflight checks for ``command`` passed (unless ``preflight`` is off)."""
    from ops.targets import select

    target = select(s)
    if s.preflight:
        target.check(s, (command,))
    return target

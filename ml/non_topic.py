"""Texts no DBPedia topic fits, gathered from text that packages ship (none written for the Lambda's rules).

Each group names where its texts come from (docs/unknown-text.md):

- ``chatterbot-corpus`` (PyPI, BSD-3-Clause; pinned in requirements.txt): the English dialog files, split
  into small talk (greetings, conversations, emotion, humour, gossip) and questions and requests to a
  bot (every other English file: "What is AI?", "How do I reset my password?"), and the dialogs of its
  27 other languages;
- GNU coreutils' message catalogs (``/usr/share/locale/*/LC_MESSAGES/coreutils.mo``, Debian's
  ``coreutils``, GPL-3.0): the English messages and help lines ("cannot open %s", "remove empty
  directories") and their translations into other languages, most of them 2-8 words;
- code: lines of the Python standard library (the interpreter's own ``.py`` files) and of matplotlib's
  JavaScript (``matplotlib/backends/web_backend/js``);
- markup: lines with tags of IDLE's ``idlelib/help.html`` (Python's standard library) and matplotlib's
  HTML templates.

Every text falls in one of two halves by a hash of the text: the learned rule (``ml/vocabulary.py``) is
fitted on ``choose`` texts only, at most ``LEARN_PER_GROUP`` a group (:func:`learning_texts`); ``invoke
unknown-text`` reports a seeded draw of ``PER_GROUP`` texts a group (:func:`gather`), split the same way, so
its ``report`` halves hold no text the rule was fitted on.
"""

from __future__ import annotations

import gettext
import hashlib
import random
import re
import sysconfig
from collections.abc import Iterator
from pathlib import Path

PER_GROUP = 600  # texts kept a group (seeded draw), before the two halves
LEARN_PER_GROUP = 3000  # choose-half texts a group the learned rule is fitted on (seeded draw)
SEED = 28
COREUTILS = Path("/usr/share/locale")
SMALL_TALK = ("greetings", "conversations", "emotion", "humor", "gossip")
_FORMAT = re.compile(r"%[-#0 +']*\d*(?:\.\d+)?[a-zA-Z]|%%")  # printf conversions in catalog messages


def _chatterbot() -> dict[str, list[str]]:
    import chatterbot_corpus
    import yaml

    # libyaml's safe loader where PyYAML was built with it (its wheels are): the same documents, 10x faster
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    root = Path(chatterbot_corpus.__file__).parent / "data"
    groups: dict[str, list[str]] = {"small talk": [], "questions and requests to a bot": [], "other": []}
    for path in sorted(root.glob("*/*.yml")):
        language, topic = path.parent.name, path.stem
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
        texts = [str(t) for dialog in doc.get("conversations") or [] for t in dialog if t]
        if language != "english":
            groups["other"] += texts
        elif topic in SMALL_TALK:
            groups["small talk"] += texts
        else:
            groups["questions and requests to a bot"] += texts
    return groups


def _catalog_lines(text: str) -> Iterator[str]:
    """The non-empty lines of a catalog message, printf conversions removed."""
    for line in _FORMAT.sub("", text).splitlines():
        if line.strip(" \t:.,-*"):
            yield " ".join(line.split())


def _coreutils() -> tuple[list[str], list[str]]:
    """(English messages, their translations) of every coreutils catalog on this machine."""
    english: set[str] = set()
    translated: set[str] = set()
    for mo in sorted(COREUTILS.glob("*/LC_MESSAGES/coreutils.mo")):
        with mo.open("rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
        for source, target in catalog.items():
            if not source or not isinstance(source, str):
                continue  # the header, plural forms
            english.update(_catalog_lines(source))
            if isinstance(target, str) and target != source:
                translated.update(_catalog_lines(target))
    return sorted(english), sorted(translated - english)


def _source_lines(paths: list[Path], keep: re.Pattern[str]) -> list[str]:
    lines: set[str] = set()
    for path in paths:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if len(line) >= 12 and keep.search(line):
                lines.add(line)
    return sorted(lines)


def _code_and_markup() -> tuple[list[str], list[str]]:
    import matplotlib

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    web = Path(matplotlib.__file__).parent / "backends" / "web_backend"
    python = sorted(p for name in ("json", "email", "http", "logging") for p in (stdlib / name).glob("*.py"))
    code_files = [*python, *sorted((web / "js").glob("*.js"))]
    code = _source_lines(code_files, re.compile(r"[=(){}\[\];:]"))
    code = [line for line in code if not line.startswith(("#", "//", "*", '"', "'"))]
    html = [stdlib / "idlelib" / "help.html", *sorted(web.glob("*.html"))]
    markup = _source_lines([p for p in html if p.exists()], re.compile(r"<[a-zA-Z/][^>]*>"))
    return code, markup


def _half(text: str) -> str:
    return "choose" if hashlib.sha256(text.encode()).digest()[0] % 2 == 0 else "report"


def _sources() -> dict[str, list[str]]:
    """Every group's distinct texts, sorted."""
    chat = _chatterbot()
    english, translated = _coreutils()
    code, markup = _code_and_markup()
    sources = {
        "small talk (chatterbot-corpus)": chat["small talk"],
        "questions and requests to a bot (chatterbot-corpus)": chat["questions and requests to a bot"],
        "other languages (chatterbot-corpus)": chat["other"],
        "program messages (coreutils, English)": english,
        "other languages, program messages (coreutils)": translated,
        "code (Python stdlib, matplotlib JS)": code,
        "markup (IDLE help, matplotlib HTML)": markup,
    }
    return {name: sorted(set(texts)) for name, texts in sources.items()}


def gather() -> dict[str, dict[str, list[str]]]:
    """``{group: {"choose": [...], "report": [...]}}``: a seeded draw of PER_GROUP texts at most a group."""
    out: dict[str, dict[str, list[str]]] = {}
    for name, unique in _sources().items():
        drawn = random.Random(SEED).sample(unique, min(PER_GROUP, len(unique)))
        out[name] = {"choose": [t for t in drawn if _half(t) == "choose"]}
        out[name]["report"] = [t for t in drawn if _half(t) == "report"]
    return out


def learning_texts() -> list[str]:
    """What the learned rule is fitted on: a seeded draw of LEARN_PER_GROUP choose-half texts a group."""
    texts = []
    for unique in _sources().values():
        choose = [t for t in unique if _half(t) == "choose"]
        texts += random.Random(SEED).sample(choose, min(LEARN_PER_GROUP, len(choose)))
    return texts

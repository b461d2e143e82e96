"""ml/fsutil.py: atomic writes keep the old content until they succeed, and leave no temporary entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.fsutil import atomic_path, remove_temps, write_json, write_text


class Interrupted(Exception):
    """Raised inside a write, standing in for any failure while the new content is written."""


def test_a_file_write_that_fails_leaves_the_old_content_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "model.tar.gz"
    target.write_bytes(b"old archive")
    with pytest.raises(Interrupted), atomic_path(target) as tmp:
        tmp.write_bytes(b"half of a new ar")
        assert target.read_bytes() == b"old archive", "the target changed before the write finished"
        raise Interrupted
    assert target.read_bytes() == b"old archive"
    assert sorted(tmp_path.iterdir()) == [target]


def test_a_folder_write_that_fails_leaves_the_old_folder_and_no_temporary_folder(tmp_path: Path) -> None:
    target = tmp_path / "prepared"
    target.mkdir()
    (target / "train.txt").write_text("old\n")
    with pytest.raises(Interrupted), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "train.txt").write_text("new, half")
        raise Interrupted
    assert [p.name for p in target.iterdir()] == ["train.txt"]
    assert (target / "train.txt").read_text() == "old\n"
    assert sorted(tmp_path.iterdir()) == [target]


def test_a_write_that_succeeds_replaces_the_content_and_leaves_no_temporary_entry(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "manifest.json"
    assert write_json(target, {"b": 1, "a": [2]})
    assert target.read_text() == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'
    assert write_text(target, "replaced\n") and target.read_text() == "replaced\n"
    assert sorted(target.parent.iterdir()) == [target]


def test_writing_the_same_text_again_touches_nothing(tmp_path: Path) -> None:
    target = tmp_path / "metrics.md"
    write_text(target, "same\n")
    before = target.stat().st_mtime_ns
    assert not write_text(target, "same\n")
    assert target.stat().st_mtime_ns == before


def test_remove_temps_removes_what_a_killed_write_left_and_nothing_else(tmp_path: Path) -> None:
    # GIVEN what a killed process leaves inside atomic_path (the temporary folder with its half-written
    # file) for two targets, beside finished files and other hidden names
    kept = [tmp_path / "endpoints.json", tmp_path / ".keep", tmp_path / "key"]
    for path in kept:
        path.write_text("x")
    (tmp_path / ".endpoints.json.k2j3x9").mkdir()
    (tmp_path / ".endpoints.json.k2j3x9" / "endpoints.json").write_text("{")
    (tmp_path / ".key.a81b").mkdir()
    # WHEN the temporaries of one target are removed THEN only that target's go
    assert remove_temps(tmp_path, "endpoints.json") == [tmp_path / ".endpoints.json.k2j3x9"]
    assert (tmp_path / ".key.a81b").is_dir()
    # AND without a name every target's go, the finished files stay
    assert remove_temps(tmp_path) == [tmp_path / ".key.a81b"]
    assert sorted(tmp_path.iterdir()) == sorted(kept)
    assert remove_temps(tmp_path / "missing") == []


def test_a_write_creates_missing_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    assert write_text(target, "x") is True
    assert target.read_text(encoding="utf-8") == "x"
    assert write_text(target, "x") is False  # unchanged: touches nothing


def test_a_folder_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "folder"
    target.mkdir()
    (target / "old.txt").write_text("old", encoding="utf-8")
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new", encoding="utf-8")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


def test_json_keeps_non_ascii_text_as_written(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"city": "Zürich"})
    assert "Zürich" in (tmp_path / "a.json").read_text(encoding="utf-8")


def test_remove_temps_removes_a_leftover_file_and_symlink_too(tmp_path: Path) -> None:
    (tmp_path / ".out.txt.abc").write_text("partial", encoding="utf-8")
    (tmp_path / ".out.txt.link").symlink_to(tmp_path / "nowhere")
    (tmp_path / "out.txt").write_text("kept", encoding="utf-8")
    assert len(remove_temps(tmp_path, "out.txt")) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]

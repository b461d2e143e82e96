"""Download, resume, checksum and archive handling, against a real HTTP server on 127.0.0.1.

The full DBPedia archive cannot be fetched here, so the tests build a small archive in its layout.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ml.data import ARCHIVE_NAME, DataError, download, make_splits, resolve_dataset
from tests.helpers import make_settings

CLASSES = [
    "Company",
    "EducationalInstitution",
    "Artist",
    "Athlete",
    "OfficeHolder",
    "MeanOfTransportation",
    "Building",
    "NaturalPlace",
    "Village",
    "Animal",
    "Plant",
    "Album",
    "Film",
    "WrittenWork",
]


def build_archive(rows_per_class: int = 30, test_rows_per_class: int = 0) -> bytes:
    """A tar.gz in the dbpedia_csv layout with synthetic rows (for download mechanics only)."""

    def csv_rows(n: int, offset: int) -> bytes:
        return "".join(
            f'{c + 1},"Title {c} {i}"," content about {CLASSES[c].lower()} number {i + offset}"\n'
            for c in range(14)
            for i in range(n)
        ).encode()

    files = {
        "dbpedia_csv/classes.txt": "\n".join(CLASSES).encode() + b"\n",
        "dbpedia_csv/train.csv": csv_rows(rows_per_class, 0),
    }
    if test_rows_per_class:
        files["dbpedia_csv/test.csv"] = csv_rows(test_rows_per_class, 10_000)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class ArchiveServer(ThreadingHTTPServer):
    """Serves one payload at /dbpedia_csv.tar.gz, honouring Range unless told not to."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _ArchiveHandler)
        self.payload, self.honour_range, self.ranges = payload, True, []
        self.cut_after: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{ARCHIVE_NAME}"


class _ArchiveHandler(BaseHTTPRequestHandler):
    server: ArchiveServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        data, start = self.server.payload, 0
        header = self.headers.get("Range")
        self.server.ranges.append(header)
        if header and self.server.honour_range:
            start = int(header.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.cut_after is not None:
            self.wfile.write(body[: self.server.cut_after])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body)


@pytest.fixture
def archive_bytes() -> bytes:
    return build_archive()


@pytest.fixture
def server(archive_bytes: bytes) -> Iterator[ArchiveServer]:
    srv = ArchiveServer(archive_bytes)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_download_verifies_and_full_choice_uses_it(
    server: ArchiveServer, archive_bytes: bytes, tmp_path: Path
) -> None:
    # GIVEN a server with the archive WHEN the pipeline asks for the full dataset
    settings = make_settings(tmp_path, data="full", data_url=server.url, data_md5=md5(archive_bytes))
    dataset = resolve_dataset(settings)
    # THEN it is downloaded, verified, extracted and readable
    assert (settings.data_dir / "raw" / ARCHIVE_NAME).read_bytes() == archive_bytes
    assert dataset.origin == "full archive" and dataset.classes == CLASSES
    # AND "auto" now prefers the downloaded archive, without downloading again
    again = resolve_dataset(
        make_settings(tmp_path, data="auto", data_url=server.url, data_md5=md5(archive_bytes))
    )
    assert again.origin == "full archive" and len(server.ranges) == 1


def test_partial_download_resumes_from_where_it_stopped(
    server: ArchiveServer, archive_bytes: bytes, tmp_path: Path
) -> None:
    dest = tmp_path / ARCHIVE_NAME
    (tmp_path / (ARCHIVE_NAME + ".part")).write_bytes(archive_bytes[:1000])
    download(server.url, dest, md5(archive_bytes))
    assert server.ranges == ["bytes=1000-"]
    assert dest.read_bytes() == archive_bytes


def test_interrupted_download_keeps_partial_file_then_resumes(
    server: ArchiveServer, archive_bytes: bytes, tmp_path: Path
) -> None:
    # GIVEN a connection that drops after 500 bytes
    server.cut_after = 500
    dest = tmp_path / ARCHIVE_NAME
    with pytest.raises(DataError, match="resumes"):
        download(server.url, dest, md5(archive_bytes))
    part = tmp_path / (ARCHIVE_NAME + ".part")
    assert part.stat().st_size == 500 and not dest.exists()
    # WHEN the network is back THEN the next run fetches only the rest
    server.cut_after = None
    download(server.url, dest, md5(archive_bytes))
    assert server.ranges[-1] == "bytes=500-" and dest.read_bytes() == archive_bytes


def test_server_that_ignores_range_restarts_cleanly(
    server: ArchiveServer, archive_bytes: bytes, tmp_path: Path
) -> None:
    server.honour_range = False
    (tmp_path / (ARCHIVE_NAME + ".part")).write_bytes(b"stale bytes from another file")
    download(server.url, tmp_path / ARCHIVE_NAME, md5(archive_bytes))
    assert (tmp_path / ARCHIVE_NAME).read_bytes() == archive_bytes


def test_wrong_checksum_is_rejected_and_never_used(server: ArchiveServer, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, data="full", data_url=server.url, data_md5="0" * 32)
    with pytest.raises(DataError, match="checksum mismatch"):
        resolve_dataset(settings)
    raw = settings.data_dir / "raw"
    assert not (raw / ARCHIVE_NAME).exists() and (raw / (ARCHIVE_NAME + ".bad")).exists()
    # AND "auto" does not pick the corrupted file up: it falls back to the shipped sample
    assert resolve_dataset(make_settings(tmp_path, data="auto")).origin == "sample"


def test_offline_download_fails_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--data PATH"):
        download("http://127.0.0.1:9/none.tar.gz", tmp_path / ARCHIVE_NAME, "0" * 32, timeout=2)


@pytest.mark.parametrize("bad", [b"not a tar at all", b"\x1f\x8b\x08\x00truncated"])
def test_unreadable_archive_given_by_path_is_a_clear_error(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "broken.tar.gz"
    path.write_bytes(bad)
    with pytest.raises(DataError, match="not a readable tar archive"):
        resolve_dataset(make_settings(tmp_path, data=str(path)))
    assert not list((tmp_path / "build" / "data" / "raw" / "extracted").glob("*/dbpedia_csv"))


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        resolve_dataset(make_settings(tmp_path, data=str(tmp_path / "nope.tar.gz")))


def test_complete_official_test_file_is_kept_as_test(tmp_path: Path) -> None:
    archive = tmp_path / "complete.tar.gz"
    archive.write_bytes(build_archive(rows_per_class=30, test_rows_per_class=5))
    settings = make_settings(tmp_path, data=str(archive), min_test_rows_per_class=5)
    splits = make_splits(resolve_dataset(settings), settings)
    assert splits.test_source.startswith("official test file")
    assert len(splits.test) == 70 and len(splits.train) + len(splits.validation) == 420


def test_incomplete_official_test_file_is_replaced_by_a_carved_split(tmp_path: Path) -> None:
    archive = tmp_path / "incomplete.tar.gz"
    archive.write_bytes(build_archive(rows_per_class=30, test_rows_per_class=5))
    settings = make_settings(tmp_path, data=str(archive), min_test_rows_per_class=100)
    splits = make_splits(resolve_dataset(settings), settings)
    assert "carved from the train file" in splits.test_source and "incomplete" in splits.test_source
    assert len(splits.test) == 14 * 3  # 10% of 30 rows in each class
    held = {(r.title, r.content) for r in splits.test + splits.validation}
    assert not held & {(r.title, r.content) for r in splits.train}

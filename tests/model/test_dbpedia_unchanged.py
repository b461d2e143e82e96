"""DBPedia stays the default and nothing its users see changes (issue 26): the default path prepares the very
bytes it prepared before own data came, under the same cache key (so no model is retrained for it)."""

from __future__ import annotations

from pathlib import Path

from ml import preprocess
from ml.data import make_splits, resolve_dataset
from ml.fsutil import file_digest
from tests.helpers import make_settings

# sha256 of each prepared file on the shipped sample, 30 rows a class, default settings, recorded with the
# code before issue 26 (commit 9c3d6ff). A deliberate change of tokens or splits updates them.
KEY = "c5e57459c5123185"
DIGESTS = {
    "meta.json": "4d5973183a0ad1d4064dba15b5de1de6db63995b6117d4350e0ca13d8018f637",
    "test.jsonl": "458146f374b2c97fe40caa287fded4996227e9c18cac37fcd5c04bd5b2416145",
    "test.txt": "d4aef30b90b24c09c13da32acb277858f80959d7adc8d712ce1c99e5dc5b383c",
    "train.txt": "c177e82f5c89ed53a04cd039359e4bf07878c2e4b23913116222672bc15ca437",
    "train_rows.txt": "75a18c54c31a20420f0453e350d9e9cb00a2a26db9b2da0366b917587df2df02",
    "validation.txt": "d1cf3b5a2a1756fd2df89403acb751251e7f505927ae9b270cd264cbc07ed588",
}


def test_the_default_path_prepares_the_same_files_as_before(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, data="sample", max_rows_per_class=30)
    dataset = resolve_dataset(settings)
    prepared = preprocess.prepare(dataset, lambda: make_splits(dataset, settings), settings)
    got = {path.name: file_digest(path) for path in sorted(prepared.folder.iterdir())}
    assert (prepared.key, got) == (KEY, DIGESTS)

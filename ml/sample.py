"""Build the small, stratified, real-data sample shipped in ``data/`` (maintainers: ``invoke sample``).

The sample keeps the original archive layout (``dbpedia_csv/classes.txt``, ``train.csv``, ``README.md``)
and the original bytes of every row it keeps, so the same loading code reads it and the full archive.
"""

from __future__ import annotations

import csv
import io
import random
import tarfile
from collections import defaultdict
from pathlib import Path

from ml.fsutil import atomic_path

ATTRIBUTION = """# DBPedia ontology classification dataset: {what}

{n_rows} rows ({per_class}) of the original **train** split, {how} the
real rows in `shared/data/dbpedia/train.csv`; each row is byte-for-byte as in the original
`dbpedia_csv/train.csv`. There is no test file: the pipeline carves a stratified, seeded test split
out of these rows and says so in every report.

The DBPedia ontology classification dataset was constructed by Xiang Zhang from DBpedia 2014 and is
licensed under the Creative Commons Attribution-ShareAlike License (CC BY-SA 3.0) and the GNU Free
Documentation License; DBpedia / Wikipedia content is CC BY-SA 3.0. These rows are redistributed under
the same terms. Cite:
- Xiang Zhang, Junbo Zhao, Yann LeCun. Character-level Convolutional Networks for Text Classification.
  NIPS 2015.
- Jens Lehmann et al. DBpedia - A Large-scale, Multilingual Knowledge Base Extracted from Wikipedia.
  Semantic Web Journal 6(2):167-195, 2015.

Source of each row (repository the row was recovered from), as `line,source_id`, is in `provenance.csv`.
"""


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def build_sample(source: Path, out: Path, per_class: int, seed: int) -> int:
    """Write a ``.tar.xz`` of ``per_class`` train rows a class (0: every row); return the number of rows."""
    lines = (source / "train.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    provenance = {}
    prov_path = source / "provenance.csv"
    if prov_path.exists():
        with prov_path.open(encoding="utf-8", newline="") as fh:
            provenance = {
                int(r["row"]): r["source_id"] for r in csv.DictReader(fh) if r["file"] == "train.csv"
            }
    by_class: dict[str, list[int]] = defaultdict(list)
    for number, line in enumerate(lines, start=1):
        by_class[line.split(",", 1)[0]].append(number)
    rng = random.Random(seed)
    chosen = sorted(
        n
        for numbers in by_class.values()
        for n in rng.sample(numbers, min(per_class or len(numbers), len(numbers)))
    )
    train = "".join(lines[n - 1] for n in chosen).encode()
    prov = "line,source_id\n" + "".join(f"{i},{provenance.get(n, '')}\n" for i, n in enumerate(chosen, 1))
    every = len(chosen) == len(lines)
    sizes = [len(numbers) for numbers in by_class.values()]
    readme = ATTRIBUTION.format(
        what="every real row at hand" if every else "a stratified sample",
        n_rows=f"{len(chosen):,}",
        per_class=f"{min(sizes):,} to {max(sizes):,} a class" if every else f"{per_class} per class",
        how="in their original order: all of" if every else f"drawn with seed {seed} from",
    )
    with atomic_path(out) as tmp, tarfile.open(tmp, "w:xz", preset=9) as tar:
        _add(tar, "dbpedia_csv/README.md", readme.encode())
        _add(tar, "dbpedia_csv/classes.txt", (source / "classes.txt").read_bytes())
        _add(tar, "dbpedia_csv/provenance.csv", prov.encode())
        _add(tar, "dbpedia_csv/train.csv", train)
    return len(chosen)

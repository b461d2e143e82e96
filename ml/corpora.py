"""Real labelled corpora besides DBPedia, as CSV for ``invoke train --data`` (``invoke corpora``).

- Fortunes: the sayings of five topical files of Debian's ``fortunes`` package, each labelled with its file.
- DBPedia coarse: the shared DBPedia train rows relabelled with DBpedia ontology parents of their 14 classes.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from ml.fsutil import atomic_path

FORTUNE_TOPICS = ("computers", "food", "law", "politics", "science")

# Each DBPedia class's parent in the DBpedia ontology; MeanOfTransportation has none below owl:Thing.
COARSE = {
    "Company": "Organisation",
    "EducationalInstitution": "Organisation",
    "Artist": "Person",
    "Athlete": "Person",
    "OfficeHolder": "Person",
    "MeanOfTransportation": "Transport",
    "Building": "Place",
    "NaturalPlace": "Place",
    "Village": "Place",
    "Animal": "Nature",
    "Plant": "Nature",
    "Album": "Work",
    "Film": "Work",
    "WrittenWork": "Work",
}

FORTUNES_README = """# Fortunes by topic: {rows:,} labelled sayings, {classes} classes

`fortunes.csv` (columns `label,text`) holds every saying of the files {topics} of Debian's `fortunes`
package ({origin}, `/usr/share/games/fortunes/`), labelled with the file it is in. A saying is one
`%`-separated entry with its whitespace runs folded to one space; a saying in more than one of these files,
or twice in one, is dropped. Rows per label: {counts}.

Rebuild: `apt-get install fortunes && invoke corpora` (the command writes this file too).

Licence: the `fortunes` package (source `fortune-mod`) is distributed under the BSD licence of the
Regents of the University of California (clauses 1, 2 and 4; see `/usr/share/doc/fortunes/copyright`),
which permits redistribution with this notice:

Copyright (c) 1991 The Regents of the University of California. All rights reserved.
Redistribution and use in source and binary forms, with or without modification, are permitted provided
that the following conditions are met: 1. Redistributions of source code must retain the above copyright
notice, this list of conditions and the following disclaimer. 2. Redistributions in binary form must
reproduce the above copyright notice, this list of conditions and the following disclaimer in the
documentation and/or other materials provided with the distribution. 4. Neither the name of the University
nor the names of its contributors may be used to endorse or promote products derived from this software
without specific prior written permission.
THIS SOFTWARE IS PROVIDED BY THE REGENTS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES,
INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR
PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE REGENTS OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT,
INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND
ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR
OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH
DAMAGE.
"""


def sayings(path: Path) -> list[str]:
    """The ``%``-separated entries of one fortune file, whitespace folded, empty ones skipped."""
    entries = re.split(r"^%$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return [text for text in (" ".join(entry.split()) for entry in entries) if text]


def build_fortunes(folder: Path, out: Path, origin: str) -> Counter[str]:
    """Write ``out`` (``label,text``) and its README beside it from ``folder``; return rows per label."""
    by_topic = {topic: sayings(folder / topic) for topic in FORTUNE_TOPICS}
    seen = Counter(text for texts in by_topic.values() for text in texts)
    rows = [(topic, text) for topic, texts in by_topic.items() for text in texts if seen[text] == 1]
    counts = Counter(label for label, _ in rows)
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["label", "text"])
        writer.writerows(rows)
    readme = FORTUNES_README.format(
        rows=len(rows),
        classes=len(counts),
        topics=", ".join(f"`{t}`" for t in FORTUNE_TOPICS),
        origin=origin,
        counts=", ".join(f"{label} {n:,}" for label, n in counts.items()),
    )
    out.with_suffix(".md").write_text(readme, encoding="utf-8")
    return counts


def build_dbpedia_coarse(source: Path, out: Path) -> Counter[str]:
    """Write ``out`` (``label,title,content``) from DBPedia's ``train.csv`` with coarse labels."""
    classes = (source / "classes.txt").read_text(encoding="utf-8").split()
    counts: Counter[str] = Counter()
    with (
        (source / "train.csv").open(encoding="utf-8", newline="") as src,
        atomic_path(out) as tmp,
        tmp.open("w", encoding="utf-8", newline="") as fh,
    ):
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["label", "title", "content"])
        for index, title, content in csv.reader(src):
            label = COARSE[classes[int(index) - 1]]
            counts[label] += 1
            writer.writerow([label, title, content.strip()])
    return counts

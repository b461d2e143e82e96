"""The model's vocabulary as the Lambda ships it: the words that tell it about a topic, and its common words.

``vocabulary.txt.gz`` sits beside the model archive in its version folder. It is gzip (fixed mtime, so
the same model gives the same bytes) of UTF-8 lines: a header naming the format, the model archive's
sha256 and the tokenizer scheme, then one line a word, ``topical <word>`` or ``common <word>``, sorted,
then the learned rule's ``weight <feature> <value>`` lines and its ``threshold <value>``.
A word is topical when it is in the model's vocabulary (fastText's ``get_words()``) and the train rows
that contain it lean to some classes: the Kullback-Leibler divergence of their class shares (shrunk
towards the class prior by ``PRIOR_ROWS`` pseudo-rows, so that a word seen in a handful of rows carries
little) from the prior is at least ``MIN_TOPIC_NATS``. "the", "how" or "und" fall out, "footballer" or
"river" stay. The common words are the ``COMMON_WORDS`` non-topical model words in the most train rows:
"the", "is", "of", "was"; a long text with none of them is not in the model's language. The learned rule is
a logistic regression over the contract's features (tokens and marks of the raw text) that tells the train
rows (as titled and untitled abstract, first sentence, first words and title) from text no topic fits
(``ml/non_topic.py``'s choose halves); its threshold refuses ``REFUSED_SHARE`` of the validation rows' first
sentences. The file's format is the wire contract's (``lambda/contract.py``); the Lambda refuses a
vocabulary whose header names another format or model than its ``MODEL_SHA256`` (docs/unknown-text.md).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import fasttext
import scipy.sparse
from sklearn.linear_model import LogisticRegression

from ml import non_topic
from ml.config import log
from ml.data import Splits
from ml.fsutil import atomic_path, file_digest, kept
from ml.lambda_src import contract, text_tokenizer
from ml.package import ArtifactError, unpack
from ml.slices import real_texts

VOCABULARY = "vocabulary.txt.gz"  # beside model.tar.gz; the same name at the Lambda zip's root
PRIOR_ROWS = 20  # pseudo-rows of the class prior mixed into every word's class counts
MIN_TOPIC_NATS = 0.2  # a word whose shrunk class shares diverge less from the prior says nothing
COMMON_WORDS = 30  # the other words in the most train rows: "the", "is", "of" (docs/unknown-text.md)
# The learned rule (docs/unknown-text.md has the measurements behind each)
RULE_ROWS = 25_000  # train rows (seeded draw) the rule is fitted on, each in its five views
RULE_C = 3.0  # the logistic regression's inverse regularisation strength
MIN_WEIGHT = 0.5  # weights nearer zero are dropped (the file stays small)
REFUSED_SHARE = 0.005  # the threshold refuses this share of the validation rows' first sentences
RULE_FILE = "non-topic-rule.json"  # the fitted rule, kept beside the prepared rows it was fitted on
# Fewer validation first sentences than this cannot place a threshold at REFUSED_SHARE (it would be the
# highest score of a handful of rows): the rule is then shipped refusing nothing, and the log says so.
MIN_RULE_SENTENCES = 200


def path_for(archive: Path) -> Path:
    """Where the vocabulary of ``archive`` lives: beside it."""
    return archive.with_name(VOCABULARY)


def model_words(archive: Path, cache_root: Path) -> frozenset[str]:
    """The words of the ``model.bin`` in ``archive`` (its input vocabulary, without labels)."""
    model = fasttext.load_model(str(unpack(archive, cache_root)))
    return frozenset(model.get_words())


def derive(words: frozenset[str], train_rows: Path) -> contract.Vocabulary:
    """The topical and the common ``words``, counted in the train rows (fastText lines, one a row)."""
    classes: Counter[str] = Counter()
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    with train_rows.open(encoding="utf-8") as fh:
        for line in fh:
            label, _, text = line.rstrip("\n").partition(" ")
            classes[label] += 1
            for word in set(text.split()) & words:
                counts[word][label] += 1
    prior = {label: n / sum(classes.values()) for label, n in classes.items()}

    def nats(by_class: Counter[str]) -> float:
        total = sum(by_class.values()) + PRIOR_ROWS
        shares = ((by_class[c] + PRIOR_ROWS * p) / total for c, p in prior.items())
        return sum(s * math.log(s / p) for s, p in zip(shares, prior.values(), strict=True))

    topical = frozenset(w for w, by_class in counts.items() if nats(by_class) >= MIN_TOPIC_NATS)
    by_rows = sorted(counts.keys() - topical, key=lambda w: (-counts[w].total(), w))
    return contract.Vocabulary(topical, frozenset(by_rows[:COMMON_WORDS]))


def learn_rule(splits: Splits) -> tuple[dict[str, float], float]:
    """The learned rule's weights and threshold, fitted on the train rows and ``non_topic``'s choose halves,
    its threshold set on the validation rows' first sentences; no rule (``{}``, infinity) on fewer than
    ``MIN_RULE_SENTENCES`` of them."""
    tokenize = text_tokenizer().tokenize
    sentences = [(s, t) for s in real_texts(splits.validation)["first sentence"] if (t := tokenize(s))]
    if len(sentences) < MIN_RULE_SENTENCES:
        log.warning(
            "only %d validation rows: too few to set the learned non-topic rule's threshold (at least %d); "
            "it refuses nothing (docs/unknown-text.md)",
            len(sentences),
            MIN_RULE_SENTENCES,
        )
        return {}, math.inf
    rows = random.Random(0).sample(splits.train, min(RULE_ROWS, len(splits.train)))
    topic = [text for texts in real_texts(rows).values() for text in texts]
    docs: list[tuple[set[str], int]] = []
    labels: list[int] = []
    for label, texts in ((0, topic), (1, non_topic.learning_texts())):
        for text in texts:
            if tokens := tokenize(text):
                docs.append((contract.features(text, tokens), len(tokens)))
                labels.append(label)
    seen = Counter(f for features, _ in docs for f in features)
    index = {f: i for i, f in enumerate(sorted(f for f, n in seen.items() if n >= 2))}
    # in sorted order: the same matrix, byte for byte, whatever the process's string hash seed
    cells = [
        (r, index[f], 1 / math.sqrt(n)) for r, (fs, n) in enumerate(docs) for f in sorted(fs) if f in index
    ]
    r, c, v = zip(*cells, strict=True)
    matrix = scipy.sparse.csr_matrix((v, (r, c)), shape=(len(docs), len(index)))
    fit = LogisticRegression(
        C=RULE_C, class_weight="balanced", solver="liblinear", max_iter=3000, random_state=0
    )
    fit.fit(matrix, labels)
    weights = {
        f: round(float(w), 3) for f, w in zip(index, fit.coef_[0], strict=True) if abs(w) >= MIN_WEIGHT
    }
    rule = contract.Vocabulary(frozenset(), frozenset(), MappingProxyType(weights))
    scores = sorted(contract.off_topic_score(s, t, rule) for s, t in sentences)
    threshold = scores[min(len(scores) - 1, int(len(scores) * (1 - REFUSED_SHARE)))] if scores else math.inf
    return weights, threshold


def kept_rule(path: Path, splits: Callable[[], Splits]) -> tuple[dict[str, float], float]:
    """The learned rule of the prepared ``splits`` (:func:`learn_rule`), fitted once and kept at ``path``
    beside their files, again when this module, its texts, the contract's features or the tokenizer
    changed: a version trained with other hyperparameters on the same rows reuses it."""
    code = (__file__, non_topic.__file__, contract.__file__, str(text_tokenizer().__file__))
    weights, threshold = kept(path, code, lambda: learn_rule(splits()))
    return dict(weights), float(threshold)


def encode(words: contract.Vocabulary, model_sha256: str, tokenizer: str) -> bytes:
    """The file's bytes: the contract's text (the header the Lambda checks, the tagged words sorted), in a
    deterministic gzip."""
    text = contract.vocabulary_text(words, model_sha256, tokenizer)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    return out.getvalue()


def is_for(path: Path, model_sha256: str) -> bool:
    """Whether ``path`` is a vocabulary the Lambda reads (this format) of that model and this tokenizer."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return fh.readline() == contract.vocabulary_header(model_sha256, text_tokenizer().SCHEME)
    except (OSError, EOFError, UnicodeDecodeError):  # none, or not gzip: nothing the Lambda can read
        return False


def is_current(archive: Path) -> bool:
    """Whether the vocabulary beside ``archive`` was derived for these exact model bytes and tokenizer."""
    return is_for(path_for(archive), file_digest(archive))


def ensure(archive: Path, cache_root: Path, train_rows: Path, splits: Callable[[], Splits]) -> Path:
    """Derive the vocabulary of ``archive`` (trained on ``train_rows``, the prepared ``splits``' train
    rows) beside it unless it is current; the learned rule is the one kept beside ``train_rows``."""
    target = path_for(archive)
    if not is_current(archive):
        weights, threshold = kept_rule(train_rows.with_name(RULE_FILE), splits)
        words = derive(model_words(archive, cache_root), train_rows)
        words = words._replace(weights=MappingProxyType(weights), threshold=threshold)
        with atomic_path(target) as tmp:
            tmp.write_bytes(encode(words, file_digest(archive), text_tokenizer().SCHEME))
    return target


def require(archive: Path) -> Path:
    """The current vocabulary of ``archive``; ArtifactError (train again) when there is none."""
    if not is_current(archive):
        raise ArtifactError(
            f"no current vocabulary for {archive} at {path_for(archive)} (none, or one of an older format "
            "or tokenizer); run `invoke train`"
        )
    return path_for(archive)


def lambda_environment(archive: Path, tokens: list[str]) -> dict[str, str]:
    """What the Lambda needs of the model ``archive`` in its version folder (the local stack sets it): its
    vocabulary, found and trusted by ``MODEL_SHA256``; from the loaded model's label ``tokens``, its class
    count ``N_LABELS`` (bounds ``k``) and the user's ``LABELS`` (what feedback may name)."""
    labels = [contract.to_label(token) for token in tokens]
    return {
        "VOCABULARY_FILE": str(path_for(archive)),
        "MODEL_SHA256": file_digest(archive),
        "N_LABELS": str(len(labels)),
        "LABELS": json.dumps(labels, ensure_ascii=False),
    }

"""``invoke tune --target local`` and the hyperparameters file it writes (the layer ``invoke train`` reads).

The tuning test runs real fastText autotune, for a few seconds, on the shipped sample's prepared data.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from ml import tune
from ml.config import ConfigError
from ml.hyperparameters import Hyperparameters
from ops.settings import load_settings
from tests.helpers import make_settings, run_invoke

BLAZINGTEXT_NAMES = {f.name for f in fields(Hyperparameters)}


def _hp_file(tmp_path: Path, **values: object) -> Path:
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    return path


# --- the hyperparameters file ---------------------------------------------------------------------------


def test_repository_file_holds_every_blazingtext_hyperparameter_and_is_loaded() -> None:
    settings = load_settings()
    written = json.loads(settings.hyperparameters_file.read_text(encoding="utf-8"))
    assert set(written) == BLAZINGTEXT_NAMES
    assert asdict(settings.hyperparameters) == written


def test_file_values_override_defaults_and_environment_and_flags_override_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _hp_file(tmp_path, epochs=9, learning_rate=0.125, vector_dim=12)
    monkeypatch.setenv("DBP_HYPERPARAMETERS_FILE", str(path))
    monkeypatch.delenv("DBP_EPOCHS", raising=False)
    hp = load_settings().hyperparameters
    assert (hp.epochs, hp.learning_rate, hp.vector_dim) == (9, 0.125, 12)
    assert hp.word_ngrams == Hyperparameters().word_ngrams  # not in the file: the code default
    monkeypatch.setenv("DBP_EPOCHS", "7")
    assert load_settings().hyperparameters.epochs == 7
    assert load_settings(epochs="8").hyperparameters.epochs == 8


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{epochs: 3", "is not valid JSON"),
        ("[25]", "must hold a JSON object"),
        ('{"epoch": 25}', "unknown hyperparameter(s): epoch"),
        ('{"epochs": "many"}', "'epochs' must be a number"),
        ('{"epochs": 2.5}', "hyperparameters.json: epochs 2.5: must be a whole number"),
        ('{"word_ngrams": 9}', "hyperparameters.json: word_ngrams 9: must be at most 5"),
    ],
)
def test_unusable_file_is_a_config_error_that_names_it(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "hyperparameters.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(hyperparameters_file=path)
    assert message in str(caught.value)


def test_cli_reports_a_missing_file_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DBP_HYPERPARAMETERS_FILE": str(tmp_path / "missing.json")}
    result = run_invoke(env, "tune", "--duration", "5")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: hyperparameters file {tmp_path / 'missing.json'} not found: restore it "
        "(`git checkout hyperparameters.json`), or point DBP_HYPERPARAMETERS_FILE at one"
    ]


# --- mapping fastText's choice back ------------------------------------------------------------------


def test_fasttext_arguments_map_to_blazingtext_names_clamped_into_the_ranges() -> None:
    base = Hyperparameters(min_count=2, buckets=300_000)
    high = tune.from_fasttext({"epoch": 100, "lr": 5.0, "dim": 1000, "wordNgrams": 5, "bucket": 10**7}, base)
    assert (high.epochs, high.learning_rate, high.vector_dim, high.word_ngrams, high.buckets) == tuple(
        tune.RANGES[name][1] for name in ("epochs", "learning_rate", "vector_dim", "word_ngrams", "buckets")
    )
    low = tune.from_fasttext({"epoch": 1, "lr": 0.001, "dim": 1, "wordNgrams": 1, "bucket": 0}, base)
    assert (low.epochs, low.learning_rate, low.vector_dim, low.word_ngrams) == (5, 0.01, 10, 1)
    assert low.buckets == 300_000, "bucket 0 (no word n-grams) keeps the current buckets"
    assert low.min_count == high.min_count == 2, "autotune does not search min_count"


# --- a real, short autotune ---------------------------------------------------------------------------


def test_local_tune_writes_blazingtext_values_in_range_that_train_then_uses(tmp_path: Path) -> None:
    path = _hp_file(tmp_path, epochs=5, learning_rate=0.5, vector_dim=10, word_ngrams=1)  # a quick start
    # 200 rows a class and one dropout copy: a fit takes well under a second, so autotune finishes many
    # inside its 10 s even on a loaded machine (on the 1,000-row channel one fit could take all of 20 s)
    settings = make_settings(
        tmp_path, hyperparameters_file=path, tune_duration=10, max_rows_per_class=200, dropout_views=1
    )

    result = tune.tune(settings)

    written = json.loads(path.read_text(encoding="utf-8"))
    assert result.written == (result.tuned_accuracy > result.current_accuracy)
    if result.written:
        assert set(written) == BLAZINGTEXT_NAMES
        for name, (low, high) in tune.RANGES.items():
            assert low <= written[name] <= high, name
    else:
        assert written == {"epochs": 5, "learning_rate": 0.5, "vector_dim": 10, "word_ngrams": 1}
    assert load_settings(hyperparameters_file=path).hyperparameters == result.winner
    report = json.loads((settings.build_dir / "tune" / tune.RESULT_FILE).read_text(encoding="utf-8"))
    assert report["fasttext_autotune_args"]["minn"] == report["fasttext_autotune_args"]["maxn"] == 0
    assert report["tuned"]["validation_accuracy"] == result.tuned_accuracy > 0.5

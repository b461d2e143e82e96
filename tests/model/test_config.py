"""The one declaration per setting: defaults, hyperparameters file, DBP_* environment, flags, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.config import ConfigError
from ml.hyperparameters import Hyperparameters
from ops.settings import declaration, load_settings


def test_defaults_then_environment_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().hyperparameters == Hyperparameters()
    monkeypatch.setenv("DBP_EPOCHS", "7")
    monkeypatch.setenv("DBP_TARGET", "aws")
    settings = load_settings(epochs="9")
    assert settings.hyperparameters.epochs == 9  # the flag wins over the environment
    assert settings.target == "aws"  # the environment wins over the default
    assert load_settings().hyperparameters.epochs == 7  # the environment wins over the file


def test_the_hyperparameters_file_is_a_layer_between_defaults_and_environment(tmp_path: Path) -> None:
    file = tmp_path / "hp.json"
    file.write_text(json.dumps({"epochs": 4, "min_count": 3}), encoding="utf-8")
    settings = load_settings(hyperparameters_file=str(file))
    assert (settings.hyperparameters.epochs, settings.hyperparameters.min_count) == (4, 3)
    assert settings.hyperparameters.vector_dim == declaration("vector_dim").default
    file.write_text(json.dumps({"epochs": 0}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^hp.json: epochs 0: must be at least 1$"):
        load_settings(hyperparameters_file=str(file))


def test_small_epoch_counts_are_valid_without_early_stopping() -> None:
    assert load_settings(epochs="3").hyperparameters.epochs == 3
    with pytest.raises(ConfigError, match="min_epochs must be at most --epochs when --early-stopping is on"):
        load_settings(epochs="3", early_stopping="true")


def test_blazingtext_view_uses_blazingtext_names_and_strings() -> None:
    values = load_settings(early_stopping="yes", patience="2").hyperparameters.as_blazingtext()
    assert values["mode"] == "supervised" and values["early_stopping"] == "true" and values["patience"] == "2"
    assert all(isinstance(v, str) for v in values.values())
    off = load_settings().hyperparameters.as_blazingtext()
    assert not {"early_stopping", "patience", "min_epochs"} & set(off), "off: left out, not sent as false"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": "ten"}, "--epochs ten: must be a whole number"),
        ({"early_stopping": "perhaps"}, "--early-stopping perhaps: must be true or false"),
        ({"target": "azure"}, "--target azure: must be one of local or aws"),
        ({"site_port": "70000"}, "--site-port 70000: must be at most 65535"),
        ({"validation_fraction": "0.9"}, "--validation-fraction 0.9: must be below 0.5"),
        ({"learning_rate": "0"}, "--learning-rate 0: must be above 0"),
        ({"learning_rate": "5"}, "--learning-rate 5: must be at most 1"),
        ({"region": "mars"}, "--region mars: is not valid (AWS region, like us-east-1)"),
        ({"max_instances": "1", "instance_count": "2"}, "--max-instances must be at least --instance-count"),
        ({"colour": "blue"}, "unknown setting(s): colour"),
    ],
)
def test_bad_values_raise_config_errors_naming_the_flag(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    assert str(caught.value) == message


def test_errors_name_what_the_user_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"^-k 201: must be at most 200$"):
        load_settings({"top_k": "-k"}, top_k="201")
    monkeypatch.setenv("DBP_EPOCHS", "0")
    with pytest.raises(ConfigError, match=r"^DBP_EPOCHS=0: must be at least 1$"):
        load_settings()


def test_replace_validates_like_loading() -> None:
    settings = load_settings()
    assert settings.replace(epochs=3, top_k=2).hyperparameters.epochs == 3
    with pytest.raises(ConfigError, match="top_k"):
        settings.replace(top_k=0)

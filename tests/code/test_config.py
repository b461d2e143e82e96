"""The one typed config: defaults, DBP_* environment, flags, and clear errors."""

from __future__ import annotations

import pytest

from ml.config import ConfigError, Hyperparameters, load_settings


def test_defaults_then_environment_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().hyperparameters == Hyperparameters()
    monkeypatch.setenv("DBP_EPOCHS", "7")
    monkeypatch.setenv("DBP_TARGET", "aws")
    settings = load_settings(epochs="9")
    assert settings.hyperparameters.epochs == 9  # the flag wins over the environment
    assert settings.target == "aws"  # the environment wins over the default


def test_small_epoch_counts_are_valid_without_early_stopping() -> None:
    assert load_settings(epochs="3").hyperparameters.epochs == 3
    with pytest.raises(ConfigError, match="min_epochs"):
        load_settings(epochs="3", early_stopping="true")


def test_blazingtext_view_uses_blazingtext_names_and_strings() -> None:
    values = load_settings(early_stopping="yes", patience="2").hyperparameters.as_blazingtext()
    assert values["mode"] == "supervised" and values["early_stopping"] == "true" and values["patience"] == "2"
    assert all(isinstance(v, str) for v in values.values())
    assert "patience" not in load_settings().hyperparameters.as_blazingtext()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": "ten"}, "expects int"),
        ({"early_stopping": "perhaps"}, "expects bool"),
        ({"target": "azure"}, "must be one of local, aws"),
        ({"site_port": "70000"}, "port number"),
        ({"validation_fraction": "0.9"}, "validation_fraction"),
        ({"learning_rate": "0"}, "must be positive"),
        ({"colour": "blue"}, "unknown setting"),
    ],
)
def test_bad_values_raise_config_errors_naming_the_setting(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)

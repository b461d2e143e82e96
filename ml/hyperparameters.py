"""BlazingText's supervised-mode hyperparameters under BlazingText's own names: bounds, defaults, and the
strings SageMaker takes. The settings (ml/config.py) hold one set: the defaults, then
``hyperparameters.json``, ``DBP_<NAME>`` variables and flags.
"""

from __future__ import annotations

import dataclasses

from pydantic import ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Hyperparameters:
    """BlazingText supervised-mode hyperparameters, under BlazingText's own names.

    The local trainer maps them onto fastText's; SageMaker receives them as they are. The bounds are
    the values BlazingText accepts that also train here (the tuning ranges lie inside them: docs/tuning.md).
    """

    # Measured choice on the shared DBPedia rows (docs/model-quality.md); hyperparameters.json repeats it.
    epochs: int = Field(default=10, ge=1, le=100, description="BlazingText epochs")
    learning_rate: float = Field(
        default=0.3, gt=0, le=1.0, description="BlazingText learning_rate (above 1 fastText diverges)"
    )
    vector_dim: int = Field(default=14, ge=1, le=300, description="BlazingText vector_dim")
    word_ngrams: int = Field(default=2, ge=1, le=5, description="BlazingText word_ngrams")
    min_count: int = Field(default=25, ge=1, le=100, description="BlazingText min_count")
    buckets: int = Field(
        default=110_000, ge=1, le=10_000_000, description="BlazingText buckets for word n-gram hashing"
    )
    early_stopping: bool = Field(default=False, description="stop when validation accuracy stops improving")
    patience: int = Field(default=4, ge=1, le=100, description="early stopping: epochs without improvement")
    min_epochs: int = Field(
        default=5, ge=1, le=100, description="early stopping: epochs before the first check"
    )

    @model_validator(mode="after")
    def _min_epochs_within_epochs(self) -> Hyperparameters:
        if self.early_stopping and self.min_epochs > self.epochs:
            raise ValueError("{min_epochs} must be at most {epochs} when {early_stopping} is on")
        return self

    def as_blazingtext(self) -> dict[str, str]:
        """Return the hyperparameters as SageMaker's BlazingText expects them (strings, supervised mode).

        Early stopping is sent only when on, with its patience and min_epochs; off, none of the three is.
        """
        values: dict[str, str] = {"mode": "supervised"}
        for name, value in dataclasses.asdict(self).items():
            values[name] = str(value).lower() if isinstance(value, bool) else str(value)
        if not self.early_stopping:
            for name in ("early_stopping", "patience", "min_epochs"):
                values.pop(name)
        return values


HYPERPARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Hyperparameters))

"""The live metrics' band (ml/drift.py) at the traffic the demo sees, about 100 answers a day: the high edge
is judged on a day, the low edge on as many answers as it takes to hold ``MIN_LOW_EDGE_ANSWERS`` of them, so
a label's share can alarm on the low side too (docs/live-metrics.md)."""

from __future__ import annotations

import math

import pytest

from ml import drift


@pytest.mark.parametrize(
    "shares",
    [
        [0.049, 0.089],  # OfficeHolder, whole text and first 8 tokens (docs/live-metrics.md's measurement)
        [0.066, 0.077],  # a DBPedia label's usual share
        [0.01, 0.012],  # one of about 90 labels of own data
        [0.5, 0.6],  # one of two labels
    ],
)
def test_a_measured_share_gets_a_low_edge_that_holds_answers_at_the_count_it_is_judged_on(
    shares: list[float],
) -> None:
    # GIVEN a label measured at these shares on the validation split's two forms
    band = drift._band(shares)
    n, low = band["low_answers"], band["low"]
    # THEN its low edge is above 0 and below the smallest share measured, and at the count it is judged on
    # it holds at least MIN_LOW_EDGE_ANSWERS answers: a share that vanishes (0 answers) is outside the band
    assert 0 < low < min(shares) and n >= drift.MIN_DAY_ANSWERS
    assert n * low >= drift.MIN_LOW_EDGE_ANSWERS
    # AND the count is the fewest that does so (one answer fewer would hold fewer, unless the day's floor)
    mean = sum(shares) / len(shares)
    edge_before = min(shares) - drift.Z * math.sqrt(mean * (1 - mean) / (n - 1))
    assert n == drift.MIN_DAY_ANSWERS or (n - 1) * edge_before < drift.MIN_LOW_EDGE_ANSWERS
    # AND the low edge is Z standard errors of that count below the smallest share
    assert low == pytest.approx(min(shares) - drift.Z * math.sqrt(mean * (1 - mean) / n), abs=1e-6)
    # AND the high edge is judged on a day of MIN_DAY_ANSWERS answers, as before
    high = max(shares) + drift.Z * math.sqrt(mean * (1 - mean) / drift.MIN_DAY_ANSWERS)
    assert band["high"] == round(min(1.0, high), 4)


def test_at_a_day_of_100_answers_the_old_low_edge_was_zero_and_the_new_one_is_not() -> None:
    # GIVEN a 7% share (a DBPedia label's) and the band the alarm compared with before: both edges of a day
    shares = [0.066, 0.077]
    mean = sum(shares) / len(shares)
    day_low = min(shares) - drift.Z * math.sqrt(mean * (1 - mean) / drift.MIN_DAY_ANSWERS)
    # THEN a day's low edge rounds to no answer at all (a label that vanished could not alarm)
    assert round(max(0.0, day_low) * drift.MIN_DAY_ANSWERS) == 0
    # AND the band's low edge, judged on its own count (a week at 100 a day holds it), holds answers
    band = drift._band(shares)
    assert band["low_answers"] <= 7 * drift.MIN_DAY_ANSWERS
    assert round(band["low"] * band["low_answers"]) >= drift.MIN_LOW_EDGE_ANSWERS


def test_a_share_never_measured_above_zero_has_no_low_side() -> None:
    # GIVEN a label the model never answered on one form  THEN no count makes a low edge above 0: not judged
    assert drift._band([0.0, 0.01]) == {"low": 0.0, "high": pytest.approx(0.0312), "low_answers": None}
    assert drift._band([0.0, 0.0])["low_answers"] is None

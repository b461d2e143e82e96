"""The suite's own scheduling (tests/conftest.py): the groups named to run first still exist."""

from __future__ import annotations

from ml.config import ROOT
from tests.conftest import LONGEST_FIRST, ONE_WORKER


def test_each_group_named_to_run_first_is_a_test_module_or_a_shared_fixture() -> None:
    # a renamed module would silently drop back to the end of the queue: the tail this order avoids
    missing = [group for group in LONGEST_FIRST if group not in ONE_WORKER and not (ROOT / group).is_file()]
    assert missing == []

"""The headline's gap closed: a share of a positive sim-to-real gap, and nothing where there is none."""

import pytest

from dexndm.eval.report import format_gap_closed, gap_closed


def test_share_of_the_gap_between_direct_transfer_and_sim():
    assert gap_closed(0.8, 0.5, 1.0) == pytest.approx(0.6)
    assert gap_closed(0.4, 0.5, 1.0) == pytest.approx(-0.2)  # worse than direct transfer


@pytest.mark.parametrize("sim", [0.5, 0.3])
def test_no_share_without_a_gap_or_when_reality_turns_further_than_sim(sim):
    assert gap_closed(0.8, 0.5, sim) is None


def test_table_text_of_the_gap_closed():
    assert format_gap_closed(0.8, 0.5, 1.0) == "60%"
    assert format_gap_closed(0.4, 0.5, 1.0) == "-20%"
    assert format_gap_closed(0.8, 0.5, 0.3) == "-"

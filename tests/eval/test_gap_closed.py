"""The headline's gap closed and Rot ratio: a share of a positive sim-to-real gap and a ratio over a
positive direct-transfer Rot, and nothing where there is none."""

import pytest

from dexndm.eval.report import format_gap_closed, format_rot_ratio, gap_closed, rot_ratio


def test_share_of_the_gap_between_direct_transfer_and_sim():
    assert gap_closed(0.8, 0.5, 1.0) == pytest.approx(0.6)
    assert gap_closed(0.4, 0.5, 1.0) == pytest.approx(-0.2)  # worse than direct transfer


@pytest.mark.parametrize("sim", [0.5, 0.3, 0.52])
def test_no_share_without_a_gap_or_when_reality_turns_further_than_sim(sim):
    # 0.52: direct transfer keeps 96% of the sim's Rot, a gap the percentage would blow up
    assert gap_closed(0.8, 0.5, sim) is None


def test_table_text_of_the_gap_closed():
    assert format_gap_closed(0.8, 0.5, 1.0) == "60%"
    assert format_gap_closed(0.4, 0.5, 1.0) == "-20%"
    assert format_gap_closed(0.8, 0.5, 0.3) == "-"


def test_rot_ratio_only_over_a_base_that_turns_the_right_way():
    assert rot_ratio(0.9, 0.6) == pytest.approx(1.5)
    assert format_rot_ratio(0.3, 0.6) == "0.50x"
    assert format_rot_ratio(0.3, 0.6, unit="") == "0.50"
    # less wrong-way rotation than direct transfer is not "0.38x worse"; a ratio says nothing here
    for direct in (-0.10, 0.0):
        assert rot_ratio(-0.04, direct) is None
        assert format_rot_ratio(-0.04, direct) == "-"


def test_paired_difference_matches_episodes_by_cell_and_index_and_shrinks_the_spread():
    import numpy as np

    from dexndm.eval.report import paired_difference

    rng = np.random.default_rng(0)
    grasp = rng.normal(2.0, 1.5, 40)  # what each grasp gives any policy: the rows' large spread
    rows = [{"object": "cyl/00", "wrist": "base_up", "axis": "+z", "episode": i} for i in range(40)]
    base = [{**r, "rot": float(g)} for r, g in zip(rows, grasp, strict=True)]
    better = [{**r, "rot": float(g + 0.3 + rng.normal(0, 0.1))} for r, g in zip(rows, grasp, strict=True)]
    d = paired_difference(better[::-1], base)  # order does not matter, the labels do
    assert d is not None and d["n"] == 40
    assert abs(d["mean"] - 0.3) < 0.05 and d["se"] < 0.03  # unpaired: about 1.5 / sqrt(20) = 0.34
    # episodes of another cell (or missing on one side) are not paired
    other = [{**r, "wrist": "palm_up"} for r in better[:5]]
    assert paired_difference(better[:3] + other, base)["n"] == 3
    assert paired_difference(other, base) is None

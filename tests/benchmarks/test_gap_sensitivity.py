"""benchmarks/gap_sensitivity.py: which parts of a profile each variant closes, paired differences,
and that a finished evaluation is reused only for the settings that made it."""

from __future__ import annotations

import json

import pytest
from gap_sensitivity import _by_cell, paired_difference, variants

from dexndm.reality.profile import load_profile


def test_hand_as_mild_takes_mild_motors_bus_and_encoders_and_keeps_the_contacts_and_masses():
    harsh, mild = load_profile("harsh"), load_profile("mild")
    hand = variants(harsh)["hand as mild"]
    assert (hand.motor, hand.latency, hand.encoder) == (mild.motor, mild.latency, mild.encoder)
    assert (hand.contact, hand.mass, hand.physics) == (harsh.contact, harsh.mass, harsh.physics)
    assert harsh.motor != mild.motor and harsh.contact != mild.contact  # so the test can fail


def _episodes(folder, rots):
    folder.mkdir(parents=True)
    lines = ["object,wrist,axis,episode,rot"] + [f"cyl/02,palm_up,+z,{i},{r}" for i, r in enumerate(rots)]
    (folder / "episodes.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_paired_difference_pairs_episodes_and_gives_the_standard_error(tmp_path):
    direct = _episodes(tmp_path / "as_profile", [0.5, 1.0, 0.2, 0.9])
    better = _episodes(tmp_path / "hand_as_mild", [0.6, 1.2, 0.2, 1.2])  # +0.1 +0.2 0 +0.3
    mean, se = paired_difference(direct, better)
    assert mean == pytest.approx(0.15) and se == pytest.approx(0.0645497, rel=1e-5)
    _episodes(tmp_path / "short", [0.5, 1.0])
    with pytest.raises(SystemExit, match="hold different episodes"):
        paired_difference(direct, tmp_path / "short")


def test_a_finished_evaluation_is_reused_only_with_the_settings_that_made_it(tmp_path):
    folder = tmp_path / "as_profile"
    folder.mkdir()
    made = {
        "policy": "GeneralistPolicy(a.pt)",
        "seed": 0,
        "wrists": ["palm_up"],
        "reality": {"name": "default"},
    }
    cell = {"wrist": "palm_up", "axis": "+z", "n": 2, "rot_mean": 0.5, "ttf_mean": 0.5}
    (folder / "summary.json").write_text(json.dumps({"config": made, "cells": [cell]}))

    def never(path):
        raise AssertionError("a finished evaluation was run again")

    same = {
        "policy": "GeneralistPolicy(a.pt)",
        "seed": 0,
        "wrists": ("palm_up",),
        "reality": {"name": "default"},
    }
    assert _by_cell(folder, never, same)[("palm_up", "+z")]["rot"] == 0.5
    with pytest.raises(SystemExit, match="other reality, seed"):
        _by_cell(folder, never, {**same, "seed": 1, "reality": {"name": "harsh"}})

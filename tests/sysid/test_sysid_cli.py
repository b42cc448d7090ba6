"""`dexndm sysid` on episodes a SimulatedReality hand collected: a softer hand than the sim is found."""

from __future__ import annotations

import json

import pytest

from dexndm.cli import main

pytestmark = pytest.mark.usefixtures("wide_console")


def test_sysid_finds_the_default_profile_softer_than_the_training_sim(tmp_path, grasp_cache, capsys):
    data = tmp_path / "free"
    collect = [
        "collect", "--hand", "sim", "--reality", "default", "--mode", "free", "--source", "random",
        "--episodes", "2", "--wrist", "palm_up", "palm_down", "--steps", "40", "--settle-s", "0.2",
        "--out", str(data), "--no-progress", "--replay.num-envs", "2", "--replay.grasp-candidates", "32",
        "--replay.grasp-cache-dir", grasp_cache,
    ]  # fmt: skip
    assert main(collect) == 0
    out = tmp_path / "hand.json"
    argv = ["sysid", "--data", str(data), "--out", str(out), "--windows", "24", "--population", "8",
            "--generations", "30", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "identified hand" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["error_fitted_mrad"] < 0.7 * result["error_nominal_mrad"]
    # the profile's Dynamixel loop (P 800 at 350 mA) is softer and weaker than the sim's PD
    assert result["hand"]["kp"] < 3.0 and result["hand"]["torque_limit"] < 0.5
    # a result file that is not one is refused with the command that makes one
    (tmp_path / "bad.json").write_text("{}")
    assert main(["train", "specialist", "--sysid", str(tmp_path / "bad.json"), "--iterations", "1"]) == 2

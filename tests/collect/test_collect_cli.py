"""`dexndm collect` and `dexndm data` end to end on SimulatedReality, at tiny scale."""

from __future__ import annotations

import pytest

from dexndm.cli import main
from dexndm.data import EpisodeStore

pytestmark = pytest.mark.usefixtures("wide_console")


def test_collect_chaos_on_simulated_reality_then_verify(tmp_path, grasp_cache, capsys):
    out = tmp_path / "chaos"
    argv = [
        "collect", "--hand", "sim", "--reality", "default", "--mode", "chaos", "--source", "random",
        "--episodes", "2", "--wrist", "palm_up", "palm_down", "--steps", "8", "--settle-s", "0.2",
        "--out", str(out), "--seed", "5", "--no-progress", "--replay.num-envs", "2",
        "--replay.grasp-candidates", "32", "--replay.grasp-cache-dir", grasp_cache,
    ]  # fmt: skip
    assert main(argv) == 0
    assert "4 episodes collected, 0 already there" in capsys.readouterr().out
    store = EpisodeStore(out, readonly=True)
    metas = [store.meta(i) for i in store.episode_indices()]
    assert [(m["wrist"], m["episode"]) for m in metas] == [
        ("palm_up", 0), ("palm_up", 1), ("palm_down", 0), ("palm_down", 1)
    ]  # fmt: skip
    assert {m["wrist"]: m["load"] for m in metas} == {"palm_up": "tether", "palm_down": "box"}
    assert all(m["hand"] == "sim" and m["profile"] == "default" and m["source"] == "random" for m in metas)
    by_wrist = {m["wrist"]: m for m in metas}
    assert (
        by_wrist["palm_down"]["balls_out_of_box"] == 0 and len(by_wrist["palm_up"]["tether_stretch_m"]) == 3
    )
    episode = store.load(0)
    assert episode["joint_pos"].shape == (8, 16) and episode["time"][-1] == pytest.approx(7 * 0.05)
    # the currents are the simulated motors' (mA) and the hand follows its targets
    assert 1.0 < abs(episode["motor_current"]).max() < 1000.0

    # the same command again: nothing to do
    assert main(argv) == 0
    assert "0 episodes collected, 4 already there" in capsys.readouterr().out

    assert main(["data", "verify", str(out)]) == 0
    assert main(["data", "info", str(out)]) == 0
    assert "4 episodes, 32 steps" in capsys.readouterr().out


def test_data_verify_names_a_truncated_and_a_corrupted_episode(tmp_path, capsys):
    out = tmp_path / "sine"
    argv = ["collect", "--hand", "sim", "--mode", "sine", "--episodes", "3", "--wrist", "base_up",
            "--steps", "4", "--settle-s", "0", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    store = EpisodeStore(out, readonly=True)
    truncated, corrupted = (out / store.record(0).file), (out / store.record(2).file)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    data = bytearray(corrupted.read_bytes())
    data[len(data) // 2] ^= 0x01
    corrupted.write_bytes(bytes(data))
    capsys.readouterr()

    assert main(["data", "verify", str(out)]) == 1
    report = capsys.readouterr().out
    assert f"{store.record(0).file}" in report and "truncated" in report
    assert f"{store.record(2).file}" in report and "checksum mismatch" in report
    assert "2 damaged" in report

    # drop them, rerun the collector: the two keys are collected again
    assert main(["data", "drop", str(out), "0"]) == 0
    assert main(["data", "drop", str(out), "2"]) == 0
    assert main(argv) == 0
    assert "2 episodes collected, 1 already there" in capsys.readouterr().out
    assert main(["data", "verify", str(out)]) == 0


def test_collect_takes_object_like_eval_and_demo():
    import tyro

    from dexndm.collect.cli import CollectCmd

    cmd = tyro.cli(CollectCmd, args=["--object", "my.stl", "normal_cuboid/03", "--wrist", "0.92,0.38,0,0"])
    assert cmd.config.replay.objects == ("my.stl", "normal_cuboid/03")
    assert tyro.cli(CollectCmd, args=["--replay.objects", "cube"]).config.replay.objects == ("cube",)

"""``dexndm demo`` end to end at tiny scale: every stage runs and the outputs say what happened."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dexndm.cli import main
from dexndm.policy.generalist import save_generalist
from dexndm.policy.networks import ResidualMLP, ResidualMLPConfig


@pytest.fixture(scope="module")
def demo_run(grasp_cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    base = save_generalist(root / "generalist.pt", ResidualMLP(ResidualMLPConfig(width=16, blocks=1)), 10, {})
    args = [
        "demo", "--out", str(root / "out"), "--base", str(base), "--object", "cube", "--episode-steps", "24",
        "--sim-episodes", "4", "--real-episodes", "2", "--pretrain-steps", "20", "--finetune-steps", "10",
        "--residual-steps", "6", "--residual-horizon", "3", "--max-correction", "0.02", "--drive-weight", "5",
        "--eval-episodes", "2",
        "--video-steps", "3", "--grasp-candidates", "48", "--grasp-cache-dir", grasp_cache, "--threads", "1",
        "--no-progress",
    ]  # fmt: skip
    threads = torch.get_num_threads()
    assert main(args) == 0
    assert torch.get_num_threads() == 1  # the training stages ran with --threads
    torch.set_num_threads(threads)
    return root / "out"


def test_demo_runs_every_stage_and_reports_the_three_policies(demo_run, capsys):
    summary = json.loads((demo_run / "summary.json").read_text())
    assert set(summary["results"]) == {"sim", "direct", "dexndm"}
    for row in summary["results"].values():
        assert row["episodes"] == 2
        assert 0.0 < row["ttf_s"] <= 24 * 0.05 + 1e-9  # episodes of 24 steps at 20 Hz
        assert np.isfinite(row["rot"])
    assert set(summary["stages_s"]) >= {"sim episodes", "collect", "dynamics", "residual", "video"}
    # the stages left their artifacts where the pipeline's own commands put them
    for path in ("sim/manifest.jsonl", "real/manifest.jsonl", "ndm/dynamics.pt", "residual/residual.pt"):
        assert (demo_run / path).exists(), path
    assert summary["config"]["reality"] == "default"
    # the residual's bound reaches the residual
    sidecar = json.loads((demo_run / "residual" / "residual.pt.json").read_text())
    assert sidecar["residual_config"]["max_correction"] == 0.02
    assert sidecar["extra"]["provenance"]["config"]["horizon"] == 3  # and its rollout length
    # --drive-weight: a drive model fitted on the collected episodes, in the residual's objective
    assert "drive" in summary["stages_s"] and (demo_run / "drive" / "drive.pt").exists()
    assert sidecar["extra"]["drive"]["weight"] == 5


def test_demo_writes_a_plot_and_a_side_by_side_video(demo_run):
    import imageio.v3 as iio

    assert (demo_run / "demo.png").stat().st_size > 1000
    frames = iio.imread(demo_run / "side_by_side.mp4")
    # the reset frame and one per control step; the two episodes side by side
    assert frames.shape[0] == 4 and frames.shape[2] == 800


def test_demo_fits_on_a_given_chaos_box_store_without_collecting(demo_run, grasp_cache, tmp_path, capsys):
    base = demo_run.parent / "generalist.pt"
    common = [
        "demo", "--base", str(base), "--objects", "cube", "--episode-steps", "24", "--sim-episodes", "4",
        "--pretrain-steps", "20", "--finetune-steps", "10", "--residual-steps", "6", "--eval-episodes", "2",
        "--video-steps", "0", "--grasp-candidates", "48", "--grasp-cache-dir", grasp_cache, "--no-progress",
    ]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "bad"), "--real-data", str(tmp_path / "nowhere")]) != 0
    assert "not a Chaos Box store" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "out"), "--real-data", str(demo_run / "real")]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "collect" not in summary["stages_s"] and not (tmp_path / "out" / "real").exists()
    assert (tmp_path / "out" / "ndm" / "dynamics.pt").exists()
    # the residual on other episodes than the sim stage's (here another run's sim episodes)
    other = tmp_path / "out2"
    assert main([*common, "--out", str(other), "--real-data", str(demo_run / "real"),
                 "--residual-data", str(demo_run / "sim")]) == 0  # fmt: skip
    sources = json.loads((other / "residual" / "residual.pt.json").read_text())
    assert sources["extra"]["sim_data"]["path"] == str((demo_run / "sim").resolve())


def test_on_policy_rounds_train_each_residual_on_the_corrected_hands_states(demo_run, grasp_cache, tmp_path):
    """--on-policy-rounds 2: round 1 records base + the sim-state residual on the reality and trains
    a residual on those states against the base's own targets; round 2 records base + round 1's and
    trains on both rounds' states; the table shows the sim-state residual beside the last round's."""
    from dexndm.data.store import EpisodeStore
    from dexndm.dynamics.datasets import load_episode_arrays

    base = demo_run.parent / "generalist.pt"
    out = tmp_path / "out"
    args = [
        "demo", "--base", str(base), "--object", "cube", "--episode-steps", "30", "--sim-episodes", "4",
        "--real-data", str(demo_run / "real"), "--pretrain-steps", "20", "--finetune-steps", "10",
        "--residual-steps", "4", "--residual-horizon", "3", "--max-correction", "0.02",
        "--eval-episodes", "2", "--video-steps", "0", "--grasp-candidates", "48",
        "--grasp-cache-dir", grasp_cache, "--threads", "1", "--no-progress",
        "--on-policy-rounds", "2", "--on-policy-episodes", "3", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["results"]) == ["sim", "direct", "sim_states", "dexndm"]
    assert {"on-policy round 1", "on-policy round 2"} <= set(summary["stages_s"])
    # the reality rows share their grasps: each pair is scored episode by episode
    paired = summary["paired_rot"]
    assert set(paired) == {"sim_states - direct", "dexndm - direct", "dexndm - sim_states"}
    assert all(d["n"] == 2 for d in paired.values())
    rounds = out / "on_policy"
    first, second = EpisodeStore(rounds / "round1" / "episodes", readonly=True), None
    # round 1 ran the sim-state residual; round 2 the residual round 1 trained
    assert first.dataset_meta["info"]["policy"] == str(out / "residual" / "policy.onnx")
    second = EpisodeStore(rounds / "round2" / "episodes", readonly=True)
    assert second.dataset_meta["info"]["policy"] == str(rounds / "round1" / "residual" / "policy.onnx")
    # the base's own targets beside the sent ones (tests/benchmarks/test_task_data_store.py checks that
    # they differ under a visible correction; this tiny residual's is about zero)
    arrays = load_episode_arrays(
        rounds / "round1" / "episodes", ("joint_targets", "base_targets", "proprio_obs")
    )
    assert arrays["base_targets"].shape == arrays["joint_targets"].shape
    # each residual corrects the base, from the states of every round so far, scored against sim models
    for r, data, pieces in ((1, "episodes", len(first)), (2, "all_rounds", len(first) + len(second))):
        sidecar = json.loads((rounds / f"round{r}" / "residual" / "residual.pt.json").read_text())["extra"]
        assert sidecar["base_policy"] == str(base)
        assert sidecar["sim_data"]["path"] == str((rounds / f"round{r}" / data).resolve())
        assert sidecar["sim_data"]["episodes"] == pieces
        assert "reference_dynamics" in sidecar
    # the deployed row is the last round's policy; a rerun records and trains nothing new
    before = (len(first), len(second))
    assert main(args) == 0
    again = tuple(len(EpisodeStore(rounds / f"round{r}" / "episodes", readonly=True)) for r in (1, 2))
    assert again == before


def test_on_policy_refit_fine_tunes_the_models_on_the_rounds_task_episodes(demo_run, grasp_cache, tmp_path):
    """--on-policy-refit: the round's residual trains through a dynamics and a drive model
    fine-tuned on the round's task episodes, from the run's own sim-pretrained stages, which stay
    its references."""
    from dexndm.data.artifacts import sha256_path

    out = tmp_path / "out"
    args = [
        "demo", "--base", str(demo_run.parent / "generalist.pt"), "--object", "cube", "--episode-steps", "30",
        "--sim-episodes", "4", "--real-data", str(demo_run / "real"), "--pretrain-steps", "20",
        "--finetune-steps", "10", "--residual-steps", "4", "--residual-horizon", "3", "--drive-weight", "5",
        "--eval-episodes", "2", "--video-steps", "0", "--grasp-candidates", "48",
        "--grasp-cache-dir", grasp_cache, "--threads", "1", "--no-progress",
        "--on-policy-rounds", "1", "--on-policy-episodes", "3", "--on-policy-refit", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    here = out / "on_policy" / "round1"
    sidecar = json.loads((here / "residual" / "residual.pt.json").read_text())["extra"]
    assert sidecar["dynamics"]["path"] == str((here / "ndm" / "dynamics.pt").resolve())
    assert sidecar["drive"]["path"] == str((here / "drive" / "drive.pt").resolve())
    # the refitted model was fine-tuned on the round's episodes, not the Chaos Box
    refit = json.loads((here / "ndm" / "dynamics.pt.json").read_text())["extra"]["inputs"]
    assert refit["real_data"]["path"] == str((here / "episodes").resolve())
    # scored against the run's own sim-trained models
    for ref, run in (("reference_dynamics", out / "ndm" / "pretrain" / "best.pt"),
                     ("reference_drive", out / "drive" / "pretrain.pt")):  # fmt: skip
        assert sidecar[ref]["sha256"] == sha256_path(run)


def test_demo_takes_the_object_wrist_and_axis_flags_of_eval():
    import tyro

    from dexndm.cli import DemoCmd

    quat, axis = "0.92,0.38,0,0", "0.2,0.3,0.93"
    cmd = tyro.cli(DemoCmd, args=["--object", "my.stl", "--wrist", quat, "--axis", axis])
    assert (cmd.config.objects, cmd.config.wrists, cmd.config.axes) == (("my.stl",), (quat,), (axis,))
    # the plural spellings of earlier releases still parse
    cmd = tyro.cli(DemoCmd, args=["--objects", "cube", "--wrists", "all", "--axes", "principal"])
    assert (cmd.config.objects, cmd.config.wrists, cmd.config.axes) == (("cube",), ("all",), ("principal",))


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--reality", "BAD_PROFILE", "did you mean 'p_gain'"),
        ("--object", "no_such_mesh.stl", "mesh file not found"),
        ("--wrist", "palm_sideways", "quaternion 'w,x,y,z'"),
        ("--axis", "0,0,0", "not all zero, got '0,0,0'"),
        ("--threads", "0", "--threads must be at least 1"),
        ("--residual-data", "no_such_store", "is not an episode store"),
        ("--on-policy-rounds", "-1", "give rounds >= 0"),
    ],
)
def test_demo_rejects_bad_input_before_any_stage_runs(tmp_path, capsys, flag, value, says):
    if value == "BAD_PROFILE":
        value = str(tmp_path / "hand.toml")
        (tmp_path / "hand.toml").write_text('name = "hand"\nbase = "default"\n[motor]\np_gian = 500\n')
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), flag, value, "--no-progress"]) != 0
    assert says in capsys.readouterr().err
    assert not (out / "sim").exists()  # no minutes spent on simulated episodes first


def test_demo_names_the_cells_its_base_was_never_trained_at(tmp_path):
    from dexndm.demo import DemoConfig, untrained_cells

    torch.manual_seed(0)
    net = ResidualMLP(ResidualMLPConfig(width=16, blocks=1))
    palm_up_z = {"rollouts": [{"rollout": {"wrists": ["palm_up"], "axes": ["+z"]}}]}
    base = str(save_generalist(tmp_path / "palm_up.pt", net, 10, palm_up_z))
    assert untrained_cells(DemoConfig(base=base)) == {}
    cfg = DemoConfig(base=base, wrists=("palm_up", "thumb_up"), axes=("+z", "0,0,2"))
    assert untrained_cells(cfg) == {"wrists": ["thumb_up"]}  # 0,0,2 is +z
    cfg = DemoConfig(base=base, wrists=("all",), axes=("principal",))
    assert untrained_cells(cfg) == {"wrists": ["palm_down", "base_up", "base_down", "thumb_up", "thumb_down"],
                                    "axes": ["+x", "-x", "+y", "-y", "-z"]}  # fmt: skip
    # a checkpoint that does not say what it was trained on gets no warning
    unknown = str(save_generalist(tmp_path / "unknown.pt", net, 10, {}))
    assert untrained_cells(DemoConfig(base=unknown, wrists=("thumb_up",))) == {}


def test_demo_breaks_a_multi_cell_run_down_by_wrist_and_axis(capsys):
    from dexndm.demo import _print, by_wrist_axis
    from dexndm.eval.evaluate import METRICS, EvalResult

    def ep(wrist, rot, ttf):
        others = dict.fromkeys(METRICS, 0.0)
        return others | {"object": "normal_cylinder/08", "wrist": wrist, "axis": "+z", "rot": rot, "ttf": ttf}

    def run(*episodes):
        return EvalResult(episodes=list(episodes), summary=[], overall={}, config={})

    results = {
        "sim": run(ep("palm_up", 1.0, 1.0), ep("palm_up", 2.0, 0.5), ep("thumb_up", 0.4, 0.2)),
        "direct": run(ep("palm_up", 0.5, 0.5), ep("palm_up", 0.5, 0.5), ep("thumb_up", 0.2, 0.1)),
        "dexndm": run(ep("palm_up", 0.8, 1.0), ep("palm_up", 0.6, 0.5), ep("thumb_up", 0.1, 0.1)),
    }
    cells = by_wrist_axis(results, episode_s=20.0)
    assert [(c["wrist"], c["axis"]) for c in cells] == [("palm_up", "+z"), ("thumb_up", "+z")]
    assert cells[0]["sim"] == {"rot": 1.5, "ttf_s": 15.0, "episodes": 2}
    assert cells[0]["dexndm"]["rot"] == pytest.approx(0.7) and cells[1]["direct"]["ttf_s"] == pytest.approx(
        2.0
    )
    rows = {k: {"rot": 0.5, "rot_std": 0.1, "ttf_s": 5.0, "ttf_s_std": 1.0, "omega_k": 0.1, "episodes": 3}
            for k in results}  # fmt: skip
    config = {
        "objects": ["normal_cylinder"],
        "wrists": ["palm_up", "thumb_up"],
        "axes": ["+z"],
        "reality": "default",
    }
    _print({"config": config, "results": rows, "rot_ratio": 1.0, "gap_closed": None, "stages_s": {},
            "by_wrist_axis": cells})  # fmt: skip
    out = capsys.readouterr().out
    assert "per wrist and axis" in out and "thumb_up" in out and "1.40x" in out  # palm up: 0.7 / 0.5


def test_the_gain_oracle_scores_a_demo_runs_residual_as_its_trainer_did(demo_run):
    """benchmarks/gain_oracle.py --demo-run rescores the run's residual through the run's models and
    gets the trainer's own held-out numbers back; an oracle with gain 1 corrects nothing."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import gain_oracle

    from dexndm.demo import DemoConfig

    cfg = DemoConfig(**json.loads((demo_run / "summary.json").read_text())["config"])
    rows = gain_oracle.in_model_scores(demo_run, cfg, [("x1", gain_oracle.DriveScale(1.0, 0.02, 10))])
    saved = json.loads((demo_run / "residual" / "residual.pt.json").read_text())["extra"]["eval"]
    trained = rows[0].split("|")[2].split("->")
    assert float(trained[0]) == pytest.approx(1e3 * saved["uncorrected_mae"], abs=0.06)
    assert float(trained[1]) == pytest.approx(1e3 * saved["corrected_mae"], abs=0.06)
    plain, corrected = rows[1].split("|")[2].split("->")
    assert plain.strip() == corrected.strip() and float(rows[1].split("|")[-2]) == 0.0

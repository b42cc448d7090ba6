"""The evaluator: exact episode counts per cell, consistent metrics, files, policy contract."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from dexndm.eval.evaluate import PolicyOutputError, evaluate
from dexndm.eval.policies import HoldPolicy, RandomPolicy
from dexndm.hand import constants as C
from dexndm.sim.grasp import GraspConfig

STEPS = 12
TINY = dict(objects=("cube",), episode_steps=STEPS, grasp=GraspConfig(candidates=32), nthread=1)
# seed 0 everywhere: the grasp cache key leaves out the generation seed (the env's seed), so a
# session-shared cache entry must not depend on which test happens to create it first


@pytest.fixture(scope="module")
def result(grasp_cache, tmp_path_factory):
    """4 cells x 3 episodes on 2 envs per cell (slots own 2 and 1 episodes); random actions drop
    the cube in some episodes, so episodes of different lengths are collected."""
    out = tmp_path_factory.mktemp("eval")
    res = evaluate(
        RandomPolicy(seed=0), wrists=("palm_up", "palm_down"), axes=("+z", "-x"), episodes_per_cell=3,
        num_envs=2, seed=0, grasp_cache_dir=grasp_cache, out_dir=out, progress=False, **TINY,
    )  # fmt: skip
    return res, out


def test_exact_episode_count_per_cell_and_files(result):
    res, out = result
    cells = {(r["object"], r["wrist"], r["axis"]) for r in res.episodes}
    assert len(cells) == 4 and len(res.episodes) == 12
    for cell in cells:
        rows = [r for r in res.episodes if (r["object"], r["wrist"], r["axis"]) == cell]
        # slot i owns episodes i, i + 2, ...: fixed at start, so early drops are not favoured
        assert sorted(r["episode"] for r in rows) == [0, 1, 2]
        assert all(r["env_id"] == r["episode"] % 2 for r in rows)
    with open(out / "episodes.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and {"object", "category", "wrist", "axis", "seed", "ttf", "omega_k"} <= set(
        rows[0]
    )
    with open(out / "summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 4 and all(int(s["n"]) == 3 for s in summary)
    js = json.loads((out / "summary.json").read_text())
    assert js["overall"]["n"] == 12 and js["config"]["episodes_per_cell"] == 3
    for name in ("episodes.csv", "summary.csv", "summary.json"):
        side = json.loads((out / f"{name}.json").read_text())
        assert side["artifact"]["file"] == name and side["config"]["seed"] == 0


def test_metrics_are_consistent(result):
    res, _ = result
    assert any(r["fell"] for r in res.episodes), "random actions should drop the cube at least once"
    for r in res.episodes:
        assert 0 < r["ttf"] <= 1
        assert r["ttf"] * STEPS == pytest.approx(r["steps"])
        assert r["omega_k"] == pytest.approx(r["rot"] / r["steps"] / C.CONTROL_DT)  # rot / steps x 20
        assert r["fell"] or r["steps"] == STEPS  # only drops end an episode early
        assert r["rot_p"] >= 0 and r["go_succ"] in (0.0, 1.0)
    s = res.summary[0]
    rows = [r for r in res.episodes if (r["wrist"], r["axis"]) == (s["wrist"], s["axis"])]
    assert s["ttf_mean"] == pytest.approx(np.mean([r["ttf"] for r in rows]))
    assert s["rot_std"] == pytest.approx(np.std([r["rot"] for r in rows], ddof=1))


def test_same_seed_same_results(result, grasp_cache):
    res, _ = result
    again = evaluate(
        RandomPolicy(seed=0), wrists=("palm_up",), axes=("+z",), episodes_per_cell=3, num_envs=2,
        seed=0, grasp_cache_dir=grasp_cache, progress=False, **TINY,
    )  # fmt: skip
    first = [r for r in res.episodes if (r["wrist"], r["axis"]) == ("palm_up", "+z")]
    assert again.episodes == first


class _Recorder:
    """Records what the evaluator shows the policy and when it resets it."""

    def __init__(self, privileged: bool):
        self.uses_privileged = privileged
        self.keys: set[str] = set()
        self.resets: list[list[int]] = []

    def reset(self, env_ids):
        self.resets.append(list(env_ids))

    def act(self, obs):
        self.keys |= set(obs)
        return np.zeros((len(obs["proprio"]), 16))


@pytest.mark.parametrize("privileged", [False, True])
def test_policy_sees_proprio_unless_privileged(privileged, grasp_cache):
    policy = _Recorder(privileged)
    evaluate(policy, episodes_per_cell=2, num_envs=2, grasp_cache_dir=grasp_cache, progress=False, **TINY)
    assert policy.keys == ({"proprio", "privileged"} if privileged else {"proprio"})
    assert policy.resets[0] == [0, 1]  # every env at the start, then the envs that ended
    assert policy.resets[1] == [0, 1]


class _NaNPolicy:
    def act(self, obs):
        a = np.zeros((len(obs["proprio"]), 16))
        a[1, 3] = np.nan
        return a


def test_nan_policy_is_refused(grasp_cache):
    with pytest.raises(PolicyOutputError, match=r"non-finite actions \(NaN or inf\) for env\(s\) \[1\]"):
        evaluate(
            _NaNPolicy(), episodes_per_cell=2, num_envs=2, grasp_cache_dir=grasp_cache, progress=False, **TINY
        )
    assert issubclass(PolicyOutputError, ValueError)  # the env's own refusal is a ValueError too


def test_wrong_shape_is_refused(grasp_cache):
    class Short:
        def act(self, obs):
            return np.zeros((len(obs["proprio"]), 12))

    with pytest.raises(PolicyOutputError, match=r"shape \(2, 12\).*expected \(2, 16\)"):
        evaluate(
            Short(), episodes_per_cell=2, num_envs=2, grasp_cache_dir=grasp_cache, progress=False, **TINY
        )


def test_progress_and_table_print(grasp_cache, capsys):
    evaluate(
        HoldPolicy(), episodes_per_cell=1, num_envs=4, grasp_cache_dir=grasp_cache, progress=True, **TINY
    )
    out = capsys.readouterr().out
    assert "HoldPolicy()" in out and "RotR" in out and "TTF" in out


def test_open_hand_starts_need_a_policy_that_grasps(grasp_cache):
    """Palm down from an open hand: holding still loses the object as soon as the operator lets
    go; the scripted teacher's grasp keeps it; an unknown start is refused."""
    from dexndm.sim.config import HandoverConfig

    hold_steps = HandoverConfig().hold_steps
    common = dict(
        objects=("cube",), wrists=("palm_down",), axes=("+z",), episodes_per_cell=6, num_envs=6,
        episode_steps=hold_steps + 40, grasp=GraspConfig(candidates=32), nthread=1,
        grasp_cache_dir=grasp_cache, progress=False,
    )  # fmt: skip
    never_closed = evaluate(HoldPolicy(), start="open", **common)
    steps = np.array([r["steps"] for r in never_closed.episodes])
    assert np.all(steps >= hold_steps) and np.all(steps <= hold_steps + 10), steps
    scripted = evaluate(HoldPolicy(), start="open-scripted", **common)
    steps = np.array([r["steps"] for r in scripted.episodes])
    assert np.median(steps) >= hold_steps + 30, steps
    assert scripted.config["start"] == "open-scripted"
    with pytest.raises(ValueError, match="start"):
        evaluate(HoldPolicy(), start="ajar", **common)


def test_pooled_by_wrist_and_axis(result, tmp_path):
    """Pooling over labels gives each group the mean of its own episodes (and the right count of
    cells turning the right way), not a mean of cell means or another group's rows."""
    from dexndm.eval.report import pooled_table, write_pooled

    res, _ = result
    by_wrist = res.pooled(("wrist",))
    assert [r["wrist"] for r in by_wrist] == ["palm_up", "palm_down"]
    for row in by_wrist:
        own = [e for e in res.episodes if e["wrist"] == row["wrist"]]
        assert row["n"] == len(own) == 6
        assert row["ttf_mean"] == pytest.approx(np.mean([e["ttf"] for e in own]))
        assert row["omega_k_std"] == pytest.approx(np.std([e["omega_k"] for e in own], ddof=1))
    path = write_pooled(res, ("wrist", "axis"), tmp_path)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert path.name == "summary_by_wrist_axis.csv" and len(rows) == 4
    assert json.loads((tmp_path / "summary_by_wrist_axis.csv.json").read_text())["config"]["pooled_by"] == [
        "wrist", "axis",
    ]  # fmt: skip
    right_way = sum(float(r["omega_k_mean"]) > 0 for r in rows)
    assert pooled_table(res, ("wrist", "axis")).caption == f"mean ω·k > 0 in {right_way} of 4 cells"
    with pytest.raises(ValueError, match="by must name"):
        res.pooled(("shape",))


def test_cli_refuses_an_unknown_pooling_label():
    from dexndm.cli import main

    with pytest.raises(SystemExit, match="--by takes object, category, wrist, axis; got shape"):
        main(["eval", "--policy", "hold", "--by", "wrist", "shape"])


def test_policies_with_one_file_name_get_their_own_output_folders():
    from dexndm.cli import _policy_dirs

    assert _policy_dirs(("hold", "runs/a/generalist.pt")) == ["hold", "generalist"]
    assert _policy_dirs(("runs/a/latest.pt", "ckpt/b/latest.pt", "hold")) == ["a_latest", "b_latest", "hold"]
    assert len(set(_policy_dirs(("x/a/latest.pt", "y/a/latest.pt")))) == 2

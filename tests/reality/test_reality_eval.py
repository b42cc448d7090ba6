"""Evaluation on SimulatedReality: the sim evaluator's metrics and files, the real hand's observation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dexndm.cli import main
from dexndm.eval.evaluate import METRICS
from dexndm.eval.policies import HoldPolicy, RandomPolicy
from dexndm.eval.reality_eval import evaluate_on_reality
from dexndm.hand import constants as C
from dexndm.sim.grasp import GraspConfig
from dexndm.sim.observations import split_proprio

STEPS = 15
TINY = dict(objects=("cube",), episode_steps=STEPS, grasp=GraspConfig(candidates=32), progress=False)


class RecordingPolicy:
    """Small random actions; keeps every observation it was given."""

    def __init__(self) -> None:
        self.observations: list[np.ndarray] = []
        self.rng = np.random.default_rng(0)
        self.resets = 0

    def reset(self, env_ids: np.ndarray) -> None:
        self.resets += 1

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        assert set(obs) == {"proprio"}  # nothing else, in particular nothing of the profile
        self.observations.append(obs["proprio"].copy())
        return self.rng.uniform(-1, 1, (1, 16))


def test_rows_summary_and_files_match_the_sim_evaluator(grasp_cache, tmp_path) -> None:
    result = evaluate_on_reality(
        HoldPolicy(), profile="default", wrists=("palm_up",), axes=("+z", "-x"), episodes_per_cell=2,
        grasp_cache_dir=grasp_cache, out_dir=tmp_path, **TINY,
    )  # fmt: skip
    assert len(result.episodes) == 4 and len(result.summary) == 2
    for row in result.episodes:
        assert set(METRICS) <= set(row) and not row["fell"]
        assert row["ttf"] == 1.0 and row["steps"] == STEPS
        assert abs(row["rot"]) < 0.05  # holding: the cube barely turns
    assert result.summary[0]["n"] == 2 and "rot_r_mean" in result.summary[0]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["reality"]["name"] == "default"
    assert (tmp_path / "episodes.csv").is_file() and (tmp_path / "summary.csv.json").is_file()


def test_policy_sees_readings_and_previous_targets(grasp_cache) -> None:
    policy = RecordingPolicy()
    evaluate_on_reality(
        policy, profile="harsh", wrists=("palm_down",), axes=("+z",), episodes_per_cell=1,
        grasp_cache_dir=grasp_cache, **TINY,
    )  # fmt: skip
    assert policy.resets == 1 and 1 <= len(policy.observations) <= STEPS
    obs = np.concatenate(policy.observations)
    assert obs.shape[1] == 10 * 32 + 7
    q_hist, a_hist, wrist, axis = split_proprio(obs, 10)
    # joint positions are encoder readings: whole ticks (float32 holds them to ~1e-7 rad)
    ticks = q_hist.astype(np.float64) / C.RAD_PER_TICK
    assert np.abs(ticks - np.round(ticks)).max() < 1e-3
    np.testing.assert_allclose(wrist, np.tile([0.0, 1.0, 0.0, 0.0], (len(obs), 1)), atol=1e-6)  # palm down
    np.testing.assert_allclose(axis, np.tile([0.0, 0.0, 1.0], (len(obs), 1)))
    # the history shifts by one each step; targets move by at most 1/24 rad per step
    np.testing.assert_array_equal(q_hist[1:, :-1], q_hist[:-1, 1:])
    np.testing.assert_array_equal(a_hist[1:, :-1], a_hist[:-1, 1:])
    assert np.abs(np.diff(a_hist[-1], axis=0)).max() <= C.ACTION_SCALE + 1e-6


def test_privileged_policy_refused() -> None:
    policy = RandomPolicy()
    policy.uses_privileged = True
    with pytest.raises(ValueError, match="privileged observations"):
        evaluate_on_reality(policy, **TINY)


def test_cli_reports_a_bad_profile(capsys) -> None:
    rc = main(["eval", "--policy", "hold", "--wrist", "palm_up", "--axis", "+z", "--reality", "defualt"])
    assert rc == 2
    assert "unknown reality profile 'defualt'" in capsys.readouterr().err


def test_an_episode_whose_physics_blew_up_ends_there_as_a_fall_and_is_flagged(
    grasp_cache, monkeypatch, capsys
):
    from dexndm.reality.simulated import SimulatedReality

    torques, reset = SimulatedReality._motor_torques, SimulatedReality.reset_to_grasp
    blown: list[int] = []

    def reset_and_mark(self, *args, **kwargs):
        reset(self, *args, **kwargs)
        self.episode_start = self._step

    def poisoned(self):  # in the first episode, during its 6th control step, once
        if not blown and self._step - self.episode_start == 5 * self.steps_per_control + 3:
            blown.append(self._step)
            self.data.qvel[self._dof[0]] = np.nan
        return torques(self)

    monkeypatch.setattr(SimulatedReality, "reset_to_grasp", reset_and_mark)
    monkeypatch.setattr(SimulatedReality, "_motor_torques", poisoned)
    result = evaluate_on_reality(
        HoldPolicy(), profile="default", wrists=("palm_up",), axes=("+z",), episodes_per_cell=2,
        grasp_cache_dir=grasp_cache, **TINY,
    )  # fmt: skip
    first, second = result.episodes
    # scored on the five whole steps before the one that blew up
    assert blown and first["physics_diverged"] and first["fell"] and first["steps"] == 5
    assert not second["physics_diverged"] and not second["fell"] and second["steps"] == STEPS
    assert result.config["physics_diverged_episodes"] == 1
    assert "physics blew up in 1 of 2 episodes" in capsys.readouterr().err


class SteppingPolicy(RecordingPolicy):
    """Asks for a step of ``size`` (in 1/24 rad) on every joint; may declare a larger action limit."""

    def __init__(self, size: float, action_limit: float | None = None) -> None:
        super().__init__()
        self.size = size
        if action_limit is not None:
            self.action_limit = action_limit

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        self.observations.append(obs["proprio"].copy())
        sign = 1.0 if len(self.observations) % 2 else -1.0  # back and forth, inside the joint limits
        return np.full((1, 16), sign * self.size)


@pytest.mark.parametrize(("declared", "expected"), [(None, 1.0), (2.0, 2.0)])
def test_the_loop_clips_actions_to_the_policys_declared_limit(grasp_cache, declared, expected) -> None:
    """A base moves a target 1/24 rad per tick; base + residual declares up to the safety cap."""
    policy = SteppingPolicy(2.0, declared)
    evaluate_on_reality(
        policy, profile="mild", wrists=("palm_up",), axes=("+z",), episodes_per_cell=1,
        grasp_cache_dir=grasp_cache, **{**TINY, "episode_steps": 4},
    )  # fmt: skip
    a_hist = split_proprio(policy.observations[-1], 10)[1][0]
    steps = np.abs(np.diff(a_hist[-3:], axis=0))  # away from the joint limits' clamp
    assert np.median(steps) == pytest.approx(expected * C.ACTION_SCALE, abs=1e-6)


def test_a_limit_beyond_the_hands_safety_cap_is_refused(grasp_cache) -> None:
    with pytest.raises(ValueError, match="action_limit 3.0"):
        evaluate_on_reality(
            SteppingPolicy(1.0, 3.0), profile="mild", wrists=("palm_up",), axes=("+z",), episodes_per_cell=1,
            grasp_cache_dir=grasp_cache, **TINY,
        )  # fmt: skip

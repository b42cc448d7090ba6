"""A residual trained through the joint-wise model against a known PD stiffness gap in the
training sim tracks the nominal sim's joint trajectories better than the base alone."""

from __future__ import annotations

import dataclasses

from dexndm.residual.sim2sim import run_gap_experiment
from dexndm.sim.config import RandomizationConfig


def test_residual_closes_a_stiffness_gap(gap_config):
    # "reality": every PD stiffness x0.35 (softer motors). At x0.6 the gap (14 mrad of tracking)
    # is too close to what a model fitted on 48 short episodes can resolve; see
    # benchmarks/RESULTS.md (residual gap) for x0.6 at a larger scale.
    cfg = gap_config(dataclasses.replace(RandomizationConfig.none(), kp_scale=(0.35, 0.35)))
    result = run_gap_experiment(cfg)
    assert result.floor_error < 1e-3  # replays in the nominal sim reproduce it: the gap is the gap
    assert result.base_error > 0.01  # the softer hand lags the sim by more than 10 mrad
    assert result.dynamics_real_one_step < 0.5 * result.info["real_hold_one_step"]
    assert result.residual_fit.best.closed_fraction > 0.1  # in the model's world
    assert 0 < result.mean_abs_correction <= cfg.residual.max_correction
    # measured (seed 0): 25.1 -> 17.7 mrad (-30 %); seed 1: 26.5 -> 20.6 mrad (-22 %)
    assert result.residual_error < 0.85 * result.base_error, (result.base_error, result.residual_error)

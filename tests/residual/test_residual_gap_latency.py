"""A residual trained through the joint-wise model against a known extra command latency in the
training sim tracks the nominal sim's joint trajectories better than the base alone."""

from __future__ import annotations

import dataclasses

from dexndm.residual.sim2sim import run_gap_experiment
from dexndm.sim.config import RandomizationConfig


def test_residual_closes_a_latency_gap(gap_config):
    # "reality": the targets reach the PD 12 substeps (100 ms, two control steps) late
    cfg = gap_config(
        dataclasses.replace(RandomizationConfig.none(), latency_substeps=(12, 12)), train_episodes=64, seed=1
    )
    cfg = dataclasses.replace(cfg, residual_fit=dataclasses.replace(cfg.residual_fit, steps=400))
    result = run_gap_experiment(cfg)
    assert result.floor_error < 1e-3
    assert result.base_error > 0.01
    assert result.residual_fit.best.closed_fraction > 0.1
    # measured (seed 1): 21.6 -> 19.6 mrad (-9 %). Anticipating two steps of a smooth target from
    # one step of history is only partly possible; benchmarks/RESULTS.md has a larger run.
    assert result.residual_error < 0.96 * result.base_error, (result.base_error, result.residual_error)

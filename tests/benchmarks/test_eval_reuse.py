"""The benchmarks reuse a finished evaluation only if the same command made it: scoring a policy on
a second reality must never report the first reality's numbers (a bug that once did)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from residual_by_model import eval_args, evaluate_palm_up, made_by
from residual_controls import _eval_folder


def _finished(out: Path, policy: Path, reality: str, seed: int = 0, episodes: int = 10) -> Path:
    """A finished evaluation in ``out`` as ``dexndm eval`` leaves it: summary plus sidecar."""
    folder = out / policy.stem
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"overall": {"rot_mean": 0.7, "ttf_mean": 0.4}}))
    command = " ".join(["/venv/bin/dexndm", *eval_args(policy, reality, episodes, seed, out)])
    (folder / "summary.json.json").write_text(json.dumps({"command": command}))
    return folder / "summary.json"


def test_reuses_the_same_evaluation_even_from_a_copied_folder(tmp_path):
    policy = tmp_path / "generalist.pt"
    summary = _finished(tmp_path / "made_here", policy, "harsh")
    assert made_by(summary, eval_args(policy, "harsh", 10, 0, tmp_path / "copied_there"))
    assert evaluate_palm_up(policy, "harsh", 10, 0, tmp_path / "made_here")["rot_mean"] == 0.7


@pytest.mark.parametrize(
    ("reality", "episodes", "seed"), [("default", 10, 0), ("harsh", 20, 0), ("harsh", 10, 1)]
)
def test_refuses_an_evaluation_of_another_reality_seed_or_size(tmp_path, reality, episodes, seed):
    policy = tmp_path / "generalist.pt"
    summary = _finished(tmp_path / "eval", policy, "harsh")
    assert not made_by(summary, eval_args(policy, reality, episodes, seed, tmp_path / "eval"))
    with pytest.raises(ValueError, match="another command"):
        evaluate_palm_up(policy, reality, episodes, seed, tmp_path / "eval")


def test_a_policy_scored_on_two_realities_gets_a_folder_for_each(tmp_path):
    policy = tmp_path / "run" / "generalist.pt"
    _finished(policy.parent / "seed0", policy, "default")  # an evaluation from before the fix
    assert _eval_folder(policy, "default", 10, 0) == policy.parent / "seed0"
    soft = "benchmarks/profiles/soft.toml"
    assert _eval_folder(policy, soft, 10, 0) == policy.parent / "eval_soft" / "seed0"


def _demo_summary(run_dir: Path, base: str, reality: str, seed: int) -> Path:
    run_dir.mkdir(parents=True)
    summary = run_dir / "summary.json"
    summary.write_text(json.dumps({"config": {"base": base, "reality": reality, "seed": seed}}))
    return summary


def test_pipeline_seeds_reuses_a_run_only_with_its_base_reality_and_seed(tmp_path):
    from pipeline_seeds import check_reuse

    base = str(tmp_path / "runs" / "ft_seed0" / "generalist.pt")
    summary = _demo_summary(tmp_path / "default" / "seed0", base, "default", 0)
    check_reuse(summary, base=base, reality="default", seed=0)
    for other in (
        {"base": str(tmp_path / "checkpoints" / "generalist.pt"), "reality": "default", "seed": 0},
        {"base": base, "reality": "harsh", "seed": 0},
        {"base": base, "reality": "default", "seed": 1},
    ):
        with pytest.raises(SystemExit, match="pass another --out"):
            check_reuse(summary, **other)

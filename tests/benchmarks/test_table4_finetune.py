"""benchmarks/table4_finetune_seed.sh puts each baseline's model in the fine-tune's training sim,
and a rerun skips what is finished, run against a stand-in ``dexndm`` that logs its commands; the
palm-up baseline scripts fit their models through the same shared steps."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCHMARKS / "table4_finetune_seed.sh"
# the scripts source the shared steps, and the palm-up ones are checked here too
SCRIPTS = (SCRIPT.name, "finetune_recipe.sh", "delta_action_pipeline_seed.sh", "sysid_pipeline_seed.sh")

# Logs each call and makes the file the real command would write, so later steps find it.
FAKE_DEXNDM = """#!/bin/sh
echo "$*" >> calls.log
out=
prev=
for a in "$@"; do [ "$prev" = --out ] && out=$a; prev=$a; done
case "$1 $2" in
"collect "*) mkdir -p "$out" ;;
"sysid "*) touch "$out" ;;
"train delta-action") mkdir -p "$out" && touch "$out/delta_action.pt" ;;
"train generalist") mkdir -p "$out" && touch "$out/generalist.pt" ;;
esac
"""


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "benchmarks").mkdir()
    for name in SCRIPTS:
        shutil.copy(BENCHMARKS / name, tmp_path / "benchmarks" / name)
    fake = tmp_path / ".venv" / "bin" / "dexndm"
    fake.parent.mkdir(parents=True)
    fake.write_text(FAKE_DEXNDM)
    fake.chmod(0o755)
    return tmp_path


def _run(repo: Path, *args: str, script: str = SCRIPT.name) -> subprocess.CompletedProcess:
    cmd = ["sh", f"benchmarks/{script}", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=60)


def _calls(repo: Path) -> list[str]:
    log = repo / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(
    ("baseline", "fit", "sim_flag"),
    [
        (
            "sysid",
            "sysid --data runs/t4_sysid_harsh_seed2/free",
            "--sysid runs/t4_sysid_harsh_seed2/sysid.json",
        ),
        (
            "uan",
            "train delta-action --structure joint",
            "--delta-action runs/t4_uan_harsh_seed2/model/delta_action.pt",
        ),
        (
            "asap",
            "train delta-action --structure whole",
            "--delta-action runs/t4_asap_harsh_seed2/model/delta_action.pt",
        ),
    ],
)
def test_each_baseline_fine_tunes_in_the_sim_its_model_makes(tmp_path, baseline, fit, sim_flag):
    repo = _repo(tmp_path)
    result = _run(repo, baseline, "2", "harsh")
    assert result.returncode == 0, result.stderr
    calls = _calls(repo)
    assert calls[0].startswith("collect --hand sim --reality harsh --mode free")
    assert any(c.startswith(fit) for c in calls)
    (specialist,) = [c for c in calls if c.startswith("train specialist")]
    assert sim_flag in specialist and "--seed 2" in specialist
    assert calls[-1].startswith(
        f"train generalist --specialists runs/t4_{baseline}_harsh_seed2/specialist/latest.pt"
    )
    assert "--rollout.seed 3" in calls[-1]

    # a rerun resumes the fine-tune (the real command resumes from latest.pt) and refits nothing
    (repo / "calls.log").unlink()
    assert _run(repo, baseline, "2", "harsh").returncode == 0
    assert [c.split(" --")[0] for c in _calls(repo)] == ["train specialist"]


def test_the_control_fine_tunes_in_the_nominal_sim(tmp_path):
    repo = _repo(tmp_path)
    assert _run(repo, "nominal", "0").returncode == 0
    calls = _calls(repo)
    assert [c.split(" --")[0] for c in calls] == ["train specialist", "train generalist"]
    assert "--sysid" not in calls[0] and "--delta-action" not in calls[0]
    assert "runs/t4_nominal_default_seed0/specialist" in calls[0]


def test_an_unknown_baseline_is_refused_before_anything_is_made(tmp_path):
    repo = _repo(tmp_path)
    result = _run(repo, "dreamer", "0")
    assert result.returncode == 2
    assert "baseline must be sysid, uan, asap or nominal, got dreamer" in result.stderr
    assert not (repo / "runs").exists() and not _calls(repo)


@pytest.mark.parametrize(
    ("script", "args", "collect", "fit"),
    [
        (
            "delta_action_pipeline_seed.sh",
            ("whole", "1", "harsh"),
            "collect --hand sim --reality harsh --mode free --episodes 16 --wrist all "
            "--source checkpoints/generalist/generalist.pt --seed 1 --out out/s14/free_harsh_gen_seed1",
            "train delta-action --structure whole --real-data out/s14/free_harsh_gen_seed1 "
            "--out runs/asap_harsh_seed1/model",
        ),
        (
            "sysid_pipeline_seed.sh",
            ("1", "harsh"),
            "collect --hand sim --reality harsh --mode free --episodes 4 --wrist all --seed 1 "
            "--out out/s13/sysid/free_harsh_seed1",
            "sysid --data out/s13/sysid/free_harsh_seed1 --seed 1",
        ),
    ],
)
def test_palm_up_baselines_fit_on_their_own_free_hand_data(tmp_path, script, args, collect, fit):
    repo = _repo(tmp_path)
    result = _run(repo, *args, script=script)
    assert result.returncode == 0, result.stderr
    calls = _calls(repo)
    assert calls[0] == collect
    assert calls[1].startswith(fit)
    assert [c.split(" --")[0] for c in calls[2:]] == ["train specialist", "train generalist"]

"""The dynamics-model benchmarks: the data-efficiency run records what it was made with, and
scripts that build on it (the ablations) take the run's settings, so that an ablation of a harsh
run collects on harsh and a rerun with another reality on the same folder does not score the
first run's models; the ablations pool over seeds against each run's own reference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import ndm_data_efficiency as de
import pytest


def test_a_run_reloads_with_the_settings_it_was_made_with(tmp_path):
    made = de.Args(
        reality="benchmarks/profiles/soft.toml",
        objects=("normal_cuboid",),
        hidden=(64, 32),
        seed=3,
        out=tmp_path,
    )
    de.record_settings(tmp_path, de._run_settings(made))
    loaded = de.load_run(tmp_path)
    # sizes and kinds are per invocation: not part of the record
    assert loaded == replace(made, sizes=de.Args().sizes, kinds=de.Args().kinds)
    assert (
        loaded.reality == "benchmarks/profiles/soft.toml" and loaded.hidden == (64, 32) and loaded.seed == 3
    )


def test_a_rerun_may_add_sizes_but_not_change_the_reality(tmp_path):
    de.record_settings(tmp_path, de._run_settings(de.Args(out=tmp_path)))
    # more sizes, other kinds and threads reuse the same stores and pre-trained models
    de.record_settings(
        tmp_path, de._run_settings(de.Args(sizes=(50, 4000), kinds=("joint",), threads=1, out=tmp_path))
    )
    with pytest.raises(SystemExit, match=r"reality 'default' \(now 'harsh'\)"):
        de.record_settings(tmp_path, de._run_settings(de.Args(reality="harsh", out=tmp_path)))


def test_a_kind_with_a_width_builds_that_model(tmp_path):
    args = de.Args(hidden=(128, 128), out=tmp_path)
    assert de.parse_variant(args, "joint") == ("joint", (128, 128))
    assert de.parse_variant(args, "joint@16") == ("joint", (16, 16))
    assert de.variant_name(args, "joint@16") == "joint-wise (16, 16)"
    assert de.variant_name(args, "whole") == "whole-hand"
    for bad, said in (("joint@", "positive integer"), ("joint@0", "positive integer"), ("jont@8", "unknown")):
        with pytest.raises(SystemExit, match=said):
            de.parse_variant(args, bad)


def test_building_on_a_folder_that_is_no_run_says_what_to_run(tmp_path):
    with pytest.raises(SystemExit, match="run benchmarks/ndm_data_efficiency.py --out"):
        de.load_run(tmp_path / "nothing")


def test_a_record_from_another_version_is_refused(tmp_path):
    (tmp_path / de.RUN_RECORD).write_text('{"reality": "default", "noise_schedule": "cosine"}')
    with pytest.raises(SystemExit, match="noise_schedule"):
        de.load_run(tmp_path)


def test_the_ablations_refuse_another_run_in_their_folder(tmp_path):
    de.record_settings(tmp_path, {"from_run": Path("out/a"), "episodes": 96})
    de.record_settings(tmp_path, {"from_run": "out/a", "episodes": 96})  # a path and its string agree
    with pytest.raises(SystemExit, match="episodes 96"):
        de.record_settings(tmp_path, {"from_run": Path("out/a"), "episodes": 32})


def test_ablations_pool_over_runs_pairing_each_row_with_its_runs_reference(tmp_path):
    import json

    from ndm_ablations import ROWS, pool_lines

    def run(name: str, ref_10: float, shift: float) -> Path:
        rows = [
            {"row": label, "one_step_mrad": 1.0, "ten_step_mrad": ref_10 + (i > 0) * shift,
             "hold_one_step_mrad": 1.5, "hold_ten_step_mrad": 12.0}
            for i, (label, _) in enumerate(ROWS)
        ]  # fmt: skip
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"rows": rows}))
        return tmp_path / name

    # the runs' task episodes differ by 4 mrad; every ablation is 2 or 4 mrad above its reference
    lines = pool_lines((run("a", 8.0, 2.0), run("b", 12.0, 4.0)))
    assert "(2 runs)" in lines[0] and len(lines) == 3 + len(ROWS)
    assert lines[3] == f"| {ROWS[0][0]} | 1.00 +- 0.00 | 10.00 +- 2.83 | - |"
    assert lines[4] == f"| {ROWS[1][0]} | 1.00 +- 0.00 | 13.00 +- 4.24 | 3.00 +- 1.41 |"
    with pytest.raises(SystemExit, match="no results.json"):
        pool_lines((tmp_path / "a", tmp_path / "missing"))

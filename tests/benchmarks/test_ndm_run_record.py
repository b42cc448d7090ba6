"""The data-efficiency run records what it was made with, and scripts that build on it (the
ablations) take the run's settings: an ablation of a harsh run must collect on harsh, and a rerun
with another reality on the same folder must not score the first run's models."""

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

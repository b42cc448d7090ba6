"""The Tables 4/5 benchmark pools each (wrist, axis) cell over its episodes and seeds, and scores
the issue's headline on the average over cells."""

from __future__ import annotations

from pathlib import Path

import pytest
from tables45 import cell_means, table_lines


def _episodes_csv(path: Path, rows: list[tuple[str, str, float, float]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["object,wrist,axis,rot,ttf"] + [f"cyl,{w},{a},{r},{t}" for w, a, r, t in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tables45_pools_cells_over_seeds_and_averages_over_cells(tmp_path):
    def seed(direct_up: float) -> dict:
        rows = {
            "sim": [("palm_up", "+z", 1.2, 1.0), ("palm_up", "+z", 0.8, 0.5), ("base_up", "+z", 0.6, 0.1)],
            "direct": [("palm_up", "+z", direct_up, 1.0), ("base_up", "+z", -0.2, 0.1)],
            "dexndm": [("palm_up", "+z", 0.8, 1.0), ("base_up", "+z", 0.2, 0.1)],
            "whole": [("palm_up", "+z", 0.25, 0.5), ("base_up", "+z", 0.05, 0.1)],
        }
        return {
            k: cell_means(_episodes_csv(tmp_path / f"{direct_up}" / k / "e.csv", v), 20.0)
            for k, v in rows.items()
        }

    per_seed = [seed(0.4), seed(0.6)]
    assert per_seed[0]["sim"][("palm_up", "+z")] == pytest.approx((1.0, 15.0))
    lines = table_lines(per_seed)
    palm_up, base_up, mean = lines[2], lines[3], lines[4]
    # palm up: direct 0.5 (seeds 0.4, 0.6), DexNDM 0.8, sim 1.0 -> 1.60x, 60% of the gap
    assert "| 0.50 +- 0.14 |" in palm_up and "1.60x" in palm_up and "60%" in palm_up
    assert "| - |" in base_up  # direct turns the wrong way: no ratio
    # over cells: direct (0.5 - 0.2) / 2 = 0.15, DexNDM 0.5 -> 3.33x
    assert "3.33x" in mean and "mean over 2 cells" in mean
    assert "whole-hand" not in lines[0]  # a baseline is a row only when asked for

    lines = table_lines(per_seed, ("whole",))
    header, palm_up, mean = lines[0], lines[2], lines[4]
    assert "whole-hand NDM Rot" in header and "whole-hand NDM / direct" in header
    assert header.count("|") == lines[1].count("|")  # the separator spans every column
    # whole-hand on palm up: 0.25 against direct 0.5 -> 0.50x, after DexNDM's 1.60x; over cells
    # (0.25 + 0.05) / 2 = 0.15 against direct 0.15 -> 1.00x
    assert "| 1.60x | 0.50x | 60% |" in palm_up
    assert "**3.33x** | **1.00x**" in mean and mean.count("|") == header.count("|")
    with pytest.raises(FileNotFoundError, match="did not finish"):
        cell_means(tmp_path / "missing.csv", 20.0)


def test_policy_rows_are_labelled_columns_and_refuse_taken_labels():
    from tables45 import parse_policy_rows

    rows = parse_policy_rows(("sysid=runs/sysid_{profile}_seed{seed}/g.pt", "UAN=runs/uan.onnx"))
    assert rows == {"sysid": "runs/sysid_{profile}_seed{seed}/g.pt", "UAN": "runs/uan.onnx"}
    for bad in ("whole=x.pt", "direct=x.pt", "sysid", "=x.pt", "a/b=x.pt"):
        with pytest.raises(SystemExit, match="--policies"):
            parse_policy_rows((bad,))
    with pytest.raises(SystemExit, match="taken"):
        parse_policy_rows(("sysid=a.pt", "sysid=b.pt"))

    cell = ("palm_up", "+z")
    seed = {"sim": {cell: (1.0, 9.0)}, "direct": {cell: (0.5, 5.0)}, "dexndm": {cell: (0.6, 5.0)}}
    lines = table_lines([seed | {"sysid": {cell: (0.75, 6.0)}}], ("sysid",))
    assert "| sysid Rot | sysid TTF (s) |" in lines[0] and "sysid / direct" in lines[0]
    assert "| 1.20x | 1.50x | 20% |" in lines[2]  # DexNDM 0.6 / 0.5, sysid 0.75 / 0.5


def test_a_policy_row_is_scored_once_per_policy_file(tmp_path):
    from tables45 import policy_row

    from dexndm.demo import DemoConfig

    policy = tmp_path / "runs" / "sysid_default_seed2" / "g.pt"
    policy.parent.mkdir(parents=True)
    policy.write_bytes(b"")
    run_dir = tmp_path / "run"
    cfg = DemoConfig(seed=2)
    with pytest.raises(SystemExit, match=r"no policy file at .*sysid_harsh_seed2"):
        policy_row(cfg, "sysid", str(tmp_path / "runs/sysid_{profile}_seed{seed}/g.pt"), "harsh", run_dir)
    # a finished score of this file is kept (no evaluation runs: it would need the policy to load)
    _episodes_csv(run_dir / "eval" / "sysid" / "episodes.csv", [("palm_up", "+z", 0.7, 0.5)])
    (run_dir / "eval" / "sysid" / "policy.json").write_text(f'{{"policy": "{policy}"}}')
    policy_row(cfg, "sysid", str(tmp_path / "runs/sysid_{profile}_seed{seed}/g.pt"), "default", run_dir)
    other = tmp_path / "runs" / "other.pt"
    other.write_bytes(b"")
    with pytest.raises(SystemExit, match="give the row another label"):
        policy_row(cfg, "sysid", str(other), "default", run_dir)


def test_the_reference_row_scores_the_base_with_mild_s_hand_once(tmp_path, monkeypatch):
    import tables45

    from dexndm.demo import DemoConfig
    from dexndm.reality.profile import load_profile

    calls = []

    def scored(cfg, policy, out, profile=None):
        calls.append((policy, profile))
        _episodes_csv(out / "episodes.csv", [("palm_up", "+z", 0.9, 0.5)])

    monkeypatch.setattr(tables45, "evaluate_reality_cells", scored)
    cfg = DemoConfig(reality="harsh", base="base.pt")
    tables45.reference_row(cfg, tmp_path)
    tables45.reference_row(cfg, tmp_path)  # there already: not scored again
    ((policy, profile),) = calls
    harsh, mild = load_profile("harsh"), load_profile("mild")
    assert policy == "base.pt" and profile.motor == mild.motor and profile.contact == harsh.contact

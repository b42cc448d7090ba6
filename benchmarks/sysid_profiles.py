"""System identification on each reality profile: does ``dexndm sysid`` find the hand the profile describes?

Per profile: free-hand episodes on SimulatedReality (``dexndm collect --mode free``, replayed
random-policy actions, 4 per wrist orientation, resumable), then :func:`dexndm.sysid.identify_hand`.
The table sets the fitted training-sim parameters beside the profile's own values in the same
units (the profile's Dynamixel registers converted by ``reality/profile.py``). They are not the
same model (the reality has a torque-speed line, backlash, encoder quantization, a finer physics
step), so agreement is a check of both the identification and the reality's motor model.

    .venv/bin/python benchmarks/sysid_profiles.py --out out/sysid_profiles
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

from dexndm.hand.model import HandConfig
from dexndm.sysid import FITTED, SysIdConfig, identify_hand, load_joint_data


@dataclass
class Args:
    profiles: tuple[str, ...] = ("mild", "default", "harsh")
    episodes_per_wrist: int = 4
    out: Path = Path("out/sysid_profiles")
    seed: int = 0


def profile_values(name: str) -> dict[str, float]:
    """The profile's hand in the training sim's terms (the fitted quantities)."""
    from dexndm.reality.profile import load_profile

    p = load_profile(name)
    m, lat = p.motor, p.latency
    return {
        "kp": m.kp_nm_per_rad,
        # the sim's kd is the PD's; the profile's viscous friction acts on the same velocity
        "kd": m.kd_nm_s_per_rad + m.viscous_friction_nm_s_per_rad - HandConfig().joint_damping,
        "torque_limit": m.torque_limit_nm,
        "armature": m.armature_kg_m2,
        "frictionloss": m.coulomb_friction_nm,
        "latency_substeps": (lat.command_latency_ms + lat.sensing_latency_ms) / (1000.0 / 120.0),
    }


def main(args: Args) -> None:
    from dexndm.collect.cli import CollectCmd
    from dexndm.collect.config import CollectConfig

    rows = []
    for name in args.profiles:
        t0 = time.perf_counter()
        root = args.out / f"free_{name}"
        cfg = CollectConfig(mode="free", episodes=args.episodes_per_wrist, wrist=("all",), seed=args.seed)
        CollectCmd(hand="sim", reality=name, out=root, progress=False, config=cfg).run()
        res = identify_hand(
            load_joint_data(root), SysIdConfig(seed=args.seed), source=str(root), progress=False
        )
        res.save(args.out / f"{name}.json")
        rows.append({"profile": name, "fitted": {**{f: getattr(res.hand, f) for f in FITTED},
                     "latency_substeps": res.latency_fitted_substeps}, "profile_values": profile_values(name),
                     "error_nominal_mrad": res.error_nominal_mrad, "error_fitted_mrad": res.error_fitted_mrad,
                     "error_hold_mrad": res.error_hold_mrad, "wall_s": time.perf_counter() - t0})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    keys = (*FITTED, "latency_substeps")
    lines = [
        "| profile | "
        + " | ".join(f"{k} fitted / profile" for k in keys)
        + " | replay error: sim / fitted / hold (mrad) |",
        "|---|" + "---|" * (len(keys) + 1),
    ]
    nominal = [f"{getattr(HandConfig(), k):.4g}" if k != "latency_substeps" else "0-3" for k in keys]
    lines.append("| training sim | " + " | ".join(nominal) + " | - |")
    for r in rows:
        cells = [f"{r['fitted'][k]:.4g} / {r['profile_values'][k]:.4g}" for k in keys]
        err = f"{r['error_nominal_mrad']:.2f} / {r['error_fitted_mrad']:.2f} / {r['error_hold_mrad']:.2f}"
        lines.append(f"| {r['profile']} | " + " | ".join(cells) + f" | {err} |")
    text = "\n".join(lines) + "\n"
    (args.out / "table.md").write_text(text)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main(tyro.cli(Args))

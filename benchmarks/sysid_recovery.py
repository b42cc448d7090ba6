"""Does ``identify_hand`` recover a hand whose parameters are known? And how many generations does it need?

"Real" data: the training sim's hand with a weaker, laggier, more frictional actuator (kp 1.5,
kd 0.05, torque limit 0.25, friction 0.02, latency 2 substeps) following per-joint sines about
mid-range (24 episodes of 120 steps, palm up). Fitted with the default SysIdConfig at two
generation counts; prints the fitted / true ratio per parameter and the replay errors.

    .venv/bin/python benchmarks/sysid_recovery.py
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from dexndm import sysid as S
from dexndm.hand import constants as C
from dexndm.hand.model import HandConfig


def main() -> None:
    rng = np.random.default_rng(0)
    episodes, steps = 24, 120
    mid = (np.asarray(C.JOINT_LOWER) + np.asarray(C.JOINT_UPPER)) / 2
    t = np.arange(steps)[None, :, None] * C.CONTROL_DT
    amp = rng.uniform(0.1, 0.4, (episodes, 1, 16))
    freq = rng.uniform(0.3, 1.5, (episodes, 1, 16))
    phase = rng.uniform(0, 2 * np.pi, (episodes, 1, 16))
    targets = C.clamp_to_limits(mid + amp * np.sin(2 * np.pi * freq * t + phase))
    targets[:, 0] = targets[:, 1]
    true = dataclasses.replace(HandConfig(), kp=1.5, kd=0.05, torque_limit=0.25, frictionloss=0.02)
    data = S.simulate_joint_data(true, 2, targets, np.tile([1.0, 0.0, 0.0, 0.0], (episodes, 1)))
    for generations in (25, 80):
        t0 = time.perf_counter()
        res = S.identify_hand(data, S.SysIdConfig(windows=64, generations=generations), progress=False)
        ratios = {f: round(getattr(res.hand, f) / getattr(true, f), 4) for f in S.FITTED}
        print(
            f"{generations} generations ({time.perf_counter() - t0:.0f} s): fitted / true {ratios}, latency "
            f"{res.latency_fitted_substeps:.2f} (true 2); replay error {res.error_nominal_mrad:.2f} mrad "
            f"(training sim) -> {res.error_fitted_mrad:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

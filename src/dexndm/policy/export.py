"""Export the generalist to ONNX with a JSON sidecar a deployment needs (and nothing else).

The ONNX graph takes the raw proprioceptive observation ``(N, 327)`` float32 and returns the
relative action ``(N, 16)`` in [-1, 1]; the caller applies ``target += action * action_scale``
and clamps to the joint limits. The sidecar states the layout so a C++ or ROS user can build the
input without reading our code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dexndm.data.atomic import atomic_write_text
from dexndm.hand import constants as C


def observation_layout(history: int) -> list[dict[str, Any]]:
    """Where each block of the proprioceptive observation sits (see dexndm.sim.observations)."""
    layout: list[dict[str, Any]] = []
    start = 0
    for k in range(history):
        age = history - 1 - k
        layout.append({"name": f"q[t-{age}]", "start": start, "size": C.NUM_JOINTS, "units": "rad"})
        layout.append(
            {"name": f"target[t-{age + 1}]", "start": start + 16, "size": C.NUM_JOINTS, "units": "rad"}
        )
        start += 2 * C.NUM_JOINTS
    layout.append({"name": "wrist_quat_wxyz", "start": start, "size": 4, "units": "world frame"})
    layout.append(
        {"name": "rotation_axis", "start": start + 4, "size": 3, "units": "unit vector, world frame"}
    )
    return layout


def export_onnx(
    model: torch.nn.Module, in_dim: int, history: int, path: Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``path`` (.onnx) and ``path.json``; returns the ONNX path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    dummy = torch.zeros(1, in_dim)
    tmp = path.with_name(path.name + ".tmp")
    torch.onnx.export(
        model, (dummy,), str(tmp), input_names=["proprio"], output_names=["action"],
        dynamic_axes={"proprio": {0: "batch"}, "action": {0: "batch"}}, opset_version=17, dynamo=False,
    )  # fmt: skip
    tmp.replace(path)
    sidecar = {
        "format": "dexndm.onnx_policy",
        "input": {
            "name": "proprio", "dim": in_dim, "dtype": "float32", "layout": observation_layout(history),
        },
        "output": {
            "name": "action", "dim": C.NUM_JOINTS, "range": [-1.0, 1.0],
            "meaning": "relative joint targets: target += action * action_scale, then clamp to limits",
        },
        "history": history,
        "joint_order": list(C.JOINT_NAMES),
        "joint_lower": C.JOINT_LOWER.tolist(),
        "joint_upper": C.JOINT_UPPER.tolist(),
        "action_scale": C.ACTION_SCALE,
        "control_period_s": C.CONTROL_DT,
        **(extra or {}),
    }  # fmt: skip
    atomic_write_text(path.with_name(path.name + ".json"), json.dumps(sidecar, indent=2) + "\n")
    return path


class OnnxPolicy:
    """Runs an exported ONNX policy with onnxruntime (the deployment path), one CPU thread."""

    uses_privileged = False

    def __init__(self, path: Path):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.path = path

    def reset(self, env_ids: np.ndarray) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        x = np.asarray(obs["proprio"], dtype=np.float32)
        return self.session.run(None, {self.input_name: x})[0].astype(np.float64)

    def __repr__(self) -> str:
        return f"OnnxPolicy({self.path})"

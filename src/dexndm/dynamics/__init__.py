"""dexndm.dynamics: neural dynamics models of the hand (stage 4 of the pipeline).

- :mod:`~dexndm.dynamics.models`: joint-wise (DexNDM), finger-wise and whole-hand models,
  ``forward(q_hist, a_hist) -> q_next`` and differentiable open-loop ``rollout``.
- :mod:`~dexndm.dynamics.windows`: windowed samples from ``(E, T, 16)`` episode arrays, 9:1 split.
- :mod:`~dexndm.dynamics.train`: ``fit_dynamics`` (best-eval, checkpoints, resume, TensorBoard).
- :mod:`~dexndm.dynamics.checkpoint`: ``save_dynamics`` / ``load_dynamics``.
- :mod:`~dexndm.dynamics.metrics`: one-step and k-step open-loop error.
- :mod:`~dexndm.dynamics.synthetic`: a synthetic hand with known per-joint dynamics.
- :mod:`~dexndm.dynamics.sim_episodes`: a policy's episodes in the training sim (the real-episode
  fields plus observations), and target sequences replayed open loop in any sim.
- :mod:`~dexndm.dynamics.datasets`: episode stores -> ``(E, T, ...)`` arrays.
- :mod:`~dexndm.dynamics.pipeline`: pre-train on sim, fine-tune on real (``dexndm train dynamics``).
"""

from dexndm.dynamics.checkpoint import (
    FORMAT_VERSION,
    CheckpointMismatchError,
    load_dynamics,
    load_extra,
    save_dynamics,
)
from dexndm.dynamics.metrics import OpenLoopError, open_loop_error
from dexndm.dynamics.models import (
    DynamicsConfig,
    DynamicsModel,
    FingerWiseDynamics,
    JointWiseDynamics,
    WholeHandDynamics,
    build_dynamics,
)
from dexndm.dynamics.train import FitConfig, FitResult, fit_dynamics
from dexndm.dynamics.windows import (
    EpisodeWindows,
    WindowBatch,
    split_episode_indices,
    split_windows,
)

__all__ = [
    "FORMAT_VERSION",
    "CheckpointMismatchError",
    "DynamicsConfig",
    "DynamicsModel",
    "EpisodeWindows",
    "FingerWiseDynamics",
    "FitConfig",
    "FitResult",
    "JointWiseDynamics",
    "OpenLoopError",
    "WholeHandDynamics",
    "WindowBatch",
    "build_dynamics",
    "fit_dynamics",
    "load_dynamics",
    "load_extra",
    "open_loop_error",
    "save_dynamics",
    "split_episode_indices",
    "split_windows",
]

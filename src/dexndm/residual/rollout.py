"""The residual's training graph: the frozen dynamics model driven by corrected targets.

Objective (method.md, "The residual policy"), over the base policy's simulated episodes::

    min  E  sum_t || q^sim_{t+1} - f({q_j, a_j + pi_res(o_j, a_j)}_{j=t-W+1..t}) ||^2

``f`` is the real hand's model, frozen; gradients flow through it into the residual.

How the window is formed (our choice; the paper leaves it open). A sample starts at a time
``t0`` with the sim's history: positions ``q^sim`` up to ``t0``, and the targets before ``t0``
corrected with the residual evaluated on the sim's own observations. Then, for ``K`` steps
(``horizon``), the residual corrects the step's base target, ``f`` predicts the next position from
the last W positions and corrected targets, and the prediction is fed back, so steps 2..K run on
the model's ("real-side") positions; every predicted position is scored against ``q^sim``.
Two modes differ in what the residual *sees* during those K steps:

- ``"teacher_forced"``: the sim's observation ``o^sim_j``. With K = 1 this is the paper's formula
  literally (sim positions in the window, every target in it corrected).
- ``"closed_loop"``: the observation rebuilt from the model-side positions and the base targets,
  as the deployed policy sees it (:mod:`dexndm.residual.deploy` gives both policies the base
  targets in the history: what the base was trained on). The residual then learns to
  react to the real hand falling behind the sim (feedback), which it sees at deployment and which
  teacher forcing never shows it.

``benchmarks/residual_gap.py`` measures both against an injected gap.

The step cap (ours). Deployed, the sent target moves at most ``max_step`` rad per tick from the
one sent before (:mod:`dexndm.residual.deploy`; the hand's safety cap). The rollout sends the same
chain, ``sent_j = clip(a_j + pi_res_j, sent_{j-1} +- max_step)``, so the model is never asked
about a target the hand would not get: a correction that leads a lagging joint has to be built up
within the cap, and the gradient through a capped step is zero, as the hand ignores that part.

What the positions are scored against (ours). The paper's ``q^sim``, or (``reference``) the
*sim-trained* dynamics model's own rollout under the base targets from the same history. With
little data, the model's multi-step error can be larger than the gap itself; scored against
``q^sim``, the residual then chases the model's error. The fine-tuned model starts from the
sim-trained one and makes much the same errors on the same inputs, so the difference of the two
is mostly the gap (a control variate). Measured on the kp x0.6 gap (benchmarks/RESULTS.md).

Training on the real hand's own states (ours). The episodes need not be the sim's: the base's
closed-loop episodes on the hand, recorded with the observations it acted on, give the residual the
states it will meet deployed rather than the sim's. Their recorded positions and currents are the
real hand's, so both references come from the sim-trained models: positions from the reference
model's rollout (above), and the drive term's currents from a sim-trained drive model along that
rollout (``reference_drive``, :meth:`ResidualRollout.references`) instead of the recorded
ones. Measured in docs/results.md 4j.

Observation rebuild. The proprioceptive observation is ``[q_{j-T+1}, a', ..., q_j, a']`` + wrist +
axis (:func:`dexndm.sim.observations.proprio_obs`), where the target paired with ``q_k`` is the
one applied ``L`` steps earlier than step ``k`` (``a_{k-L}``). ``L`` is read off the recorded
episodes (:func:`observation_target_lag`), so the rebuild follows the env's convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from dexndm.dynamics.drive import JointDriveModel
from dexndm.dynamics.models import DynamicsModel
from dexndm.dynamics.windows import EpisodeWindows, WindowBatch, split_episode_indices
from dexndm.hand import constants as C
from dexndm.residual.model import ResidualPolicyNet

RolloutMode = Literal["teacher_forced", "closed_loop"]
_TAIL = 7  # wrist quaternion (4) + rotation axis (3) after the (q, target) pairs


def observation_target_lag(
    proprio: np.ndarray, joint_targets: np.ndarray, history: int, max_lag: int = 3
) -> int:
    """``L`` such that the newest target in ``proprio[:, t]`` is ``joint_targets[:, t - L]``.

    Args:
        proprio: ``(E, T, D)`` observations; joint_targets: ``(E, T, J)`` targets of each step.
    Raises:
        ValueError: no lag in ``0..max_lag`` reproduces the observations (they were not recorded
            with these targets, e.g. arrays from different runs).
    """
    j = joint_targets.shape[-1]
    start = (history - 1) * 2 * j + j
    newest = proprio[:, max_lag:, start : start + j]
    for lag in range(max_lag + 1):
        shifted = joint_targets[:, max_lag - lag : joint_targets.shape[1] - lag]
        if np.allclose(newest, shifted, atol=1e-6):
            return lag
    raise ValueError(
        "the observations' target history matches none of the recorded targets shifted by 0.."
        f"{max_lag} steps; record observations and targets in the same run (dexndm sim-episodes)"
    )


def proprio_sequence(
    joint_pos: np.ndarray,
    joint_targets: np.ndarray,
    wrist_quat: np.ndarray,
    axis: np.ndarray,
    history: int,
    lag: int,
) -> np.ndarray:
    """Observations ``(E, T, T_h*32 + 7)`` float32 for recorded episodes ``(E, T, J)`` (numpy).

    Step ``t`` pairs ``q_{t-k}`` with ``a_{t-k-lag}`` (``k = T_h-1 .. 0``), as the env does with
    its lag; steps before the episode start repeat its first values (the env fills its history
    with the reset state). ``wrist_quat`` ``(E, 4)``, ``axis`` ``(E, 3)`` are per episode.
    """
    from dexndm.sim.observations import proprio_obs

    num_episodes, steps, _ = joint_pos.shape
    time = np.arange(steps)[:, None] + np.arange(1 - history, 1)  # (T, T_h)
    q_time, a_time = np.clip(time, 0, None), np.clip(time - lag, 0, None)
    return np.stack(
        [
            proprio_obs(joint_pos[:, q_time[t]], joint_targets[:, a_time[t]], wrist_quat, axis)
            for t in range(steps)
        ],
        axis=1,
    )


def proprio_from_history(q_hist: Tensor, target_hist: Tensor, tail: Tensor) -> Tensor:
    """The proprioceptive observation in torch: ``(B, T, J), (B, T, J), (B, 7) -> (B, T*2J + 7)``,
    the layout of :func:`dexndm.sim.observations.proprio_obs` (pairs oldest first, q then target)."""
    pairs = torch.stack([q_hist, target_hist], dim=2).reshape(q_hist.shape[0], -1)
    return torch.cat([pairs, tail], dim=1)


@dataclass(frozen=True, eq=False)
class ResidualEpisodes:
    """The base policy's sim episodes, windowed for :class:`ResidualRollout`.

    ``windows`` holds ``q^sim`` (``joint_pos``) and base targets (``joint_targets``) ``(E, T, J)``
    and the episode subset, with a history long enough for the model window W and the observation
    history T plus its lag L; ``proprio`` ``(E, T, D)`` holds the sim's observations.
    """

    windows: EpisodeWindows
    proprio: Tensor
    obs_lag: int
    motor_current: Tensor | None = None
    """``(E, T, J)`` the sim's motor current, mA (for the drive objective; None when not loaded)."""

    def with_horizon(self, horizon: int) -> ResidualEpisodes:
        return replace(self, windows=self.windows.with_horizon(horizon))

    def __len__(self) -> int:
        return len(self.windows)

    def gather(self, index: Tensor) -> tuple[WindowBatch, Tensor]:
        """Windows ``index`` ``(B,)`` and the observations of their target steps ``(B, H+K-1, D)``."""
        episode, time_ = self.windows.locate(index)
        return self.windows.gather(index), self.proprio[episode[:, None], time_[:, :-1]]

    def future_current(self, index: Tensor) -> Tensor:
        """The sim's motor current at the K predicted steps of windows ``index``: ``(B, K, J)`` mA."""
        if self.motor_current is None:
            raise ValueError("these episodes were loaded without motor_current (the drive objective's)")
        episode, time_ = self.windows.locate(index)
        return self.motor_current[episode[:, None], time_[:, self.windows.window :]]


def split_residual_episodes(
    arrays: dict[str, np.ndarray], window: int, eval_fraction: float = 0.1, seed: int = 0
) -> tuple[ResidualEpisodes, ResidualEpisodes]:
    """Episode split (9:1) of ``{"joint_pos", "joint_targets", "proprio_obs"}`` ``(E, T, ...)`` arrays,
    windowed for a dynamics model of window ``window``."""
    missing = {"joint_pos", "joint_targets", "proprio_obs"} - set(arrays)
    if missing:
        raise ValueError(
            f"residual training data lacks {sorted(missing)}; record it with dexndm sim-episodes"
        )
    num_episodes = arrays["joint_pos"].shape[0]
    if num_episodes < 2:
        raise ValueError(f"residual training needs at least 2 episodes (train and eval), got {num_episodes}")
    history = (arrays["proprio_obs"].shape[2] - _TAIL) // (2 * arrays["joint_pos"].shape[2])
    lag = observation_target_lag(arrays["proprio_obs"], arrays["joint_targets"], history)
    train_eps, eval_eps = split_episode_indices(num_episodes, eval_fraction, seed)
    span = max(window, history + lag)
    train = EpisodeWindows.from_arrays(arrays["joint_pos"], arrays["joint_targets"], span, 1, train_eps)
    evaluation = replace(train, episodes=torch.as_tensor(eval_eps, dtype=torch.long))
    proprio = torch.as_tensor(arrays["proprio_obs"], dtype=torch.float32)
    current = arrays.get("motor_current")
    current = None if current is None else torch.as_tensor(current, dtype=torch.float32)
    return (
        ResidualEpisodes(train, proprio, lag, current),
        ResidualEpisodes(evaluation, proprio, lag, current),
    )


def rollout_with_currents(
    dynamics: DynamicsModel, drive: JointDriveModel | None, q_hist: Tensor, a_seq: Tensor
) -> tuple[Tensor, Tensor | None]:
    """``dynamics``' open-loop rollout ``(B, K, J)`` from ``q_hist`` ``(B, W, J)`` under ``a_seq``
    ``(B, W + K - 1, J)`` (as :meth:`DynamicsModel.rollout`) and, with a ``drive`` model, its
    currents along that rollout ``(B, K, J)`` mA, each from the window the step is predicted from
    (else None)."""
    if drive is None:
        return dynamics.rollout(q_hist, a_seq), None
    w = dynamics.window
    q, currents = list(q_hist.unbind(1)), []
    for k in range(a_seq.shape[1] - w + 1):
        q_window, a_window = torch.stack(q[-w:], 1), a_seq[:, k : k + w]
        currents.append(drive(q_window, a_window))
        q.append(dynamics(q_window, a_window))
    return torch.stack(q[w:], 1), torch.stack(currents, 1)


class ResidualRollout(nn.Module):
    """``K`` steps of the frozen model under residual-corrected targets (see the module docstring)."""

    joint_lower: Tensor
    joint_upper: Tensor

    def __init__(
        self,
        residual: ResidualPolicyNet,
        dynamics: DynamicsModel,
        obs_lag: int,
        mode: RolloutMode = "closed_loop",
        reference: DynamicsModel | None = None,
        drive: JointDriveModel | None = None,
        max_step: float | None = C.MAX_TARGET_STEP_RAD,
        reference_drive: JointDriveModel | None = None,
    ) -> None:
        super().__init__()
        if max_step is not None and not max_step > 0:
            raise ValueError(f"max_step must be > 0 rad or None (no cap), got {max_step}")
        self.max_step = max_step
        if mode not in ("teacher_forced", "closed_loop"):
            raise ValueError(f"unknown rollout mode {mode!r}; choose 'teacher_forced' or 'closed_loop'")
        if drive is not None and drive.window != dynamics.window:
            raise ValueError(
                f"the drive model's window ({drive.window}) must be the dynamics model's "
                f"({dynamics.window}): they read the same history; retrain it with --window"
            )
        self.residual = residual
        self.dynamics = dynamics.requires_grad_(False).eval()
        self.reference = None if reference is None else reference.requires_grad_(False).eval()
        self.drive = None if drive is None else drive.requires_grad_(False).eval()
        if reference_drive is not None and (reference is None or drive is None):
            raise ValueError(
                "a reference drive model scores currents along the reference model's rollout: it needs "
                "both a reference dynamics model and a drive model"
            )
        if reference_drive is not None and reference_drive.window != dynamics.window:
            raise ValueError(
                f"the reference drive model's window ({reference_drive.window}) must be the dynamics "
                f"model's ({dynamics.window})"
            )
        self.reference_drive = (
            None if reference_drive is None else reference_drive.requires_grad_(False).eval()
        )
        self.obs_lag = obs_lag
        self.mode = mode
        self.register_buffer("joint_lower", torch.as_tensor(C.JOINT_LOWER, dtype=torch.float32))
        self.register_buffer("joint_upper", torch.as_tensor(C.JOINT_UPPER, dtype=torch.float32))

    @torch.no_grad()
    def references(self, batch: WindowBatch) -> tuple[Tensor, Tensor | None]:
        """What the predictions are scored against ``(B, K, J)``: ``q^sim`` (``batch.q_future``), or
        the reference model's rollout under the base targets from the same sim history; and, with a
        reference drive model, its currents along that rollout ``(B, K, J)`` mA, each from the window
        the step is predicted from (else None: the drive term reads the episodes' recorded
        currents). Those currents are the drive term's counterpart of the reference positions, for
        episodes whose recorded currents are not the sim's (the real hand's own states); one
        rollout gives both."""
        if self.reference is None:
            return batch.q_future, None
        w, history_len = self.reference.window, batch.q_hist.shape[1]
        q_hist, targets = batch.q_hist[:, history_len - w :], batch.a_seq[:, history_len - w :]
        return rollout_with_currents(self.reference, self.reference_drive, q_hist, targets)

    def _sent(self, base: Tensor, correction: Tensor, previous: Tensor | None) -> Tensor:
        """The target the hand gets: base + correction within the joint limits and, after the
        first, within ``max_step`` of the ``previous`` sent target."""
        wanted = base + correction
        if self.max_step is not None and previous is not None:
            wanted = torch.clamp(wanted, previous - self.max_step, previous + self.max_step)
        return torch.clamp(wanted, self.joint_lower, self.joint_upper)

    def forward(self, batch: WindowBatch, obs_seq: Tensor, correct: bool = True) -> tuple[Tensor, Tensor]:
        """Predicted positions ``q_{t0+1..t0+K}`` ``(B, K, J)`` and the corrections ``(B, H+K-1, J)``.

        ``batch``: history ``H`` (``q_hist`` up to ``t0``), base targets ``a_seq`` from ``t0-H+1`` to
        ``t0+K-1`` and ``q_future``; ``obs_seq`` ``(B, H+K-1, D)`` the sim observations of those steps.
        ``correct=False`` runs the base targets alone (the gap the model predicts).
        """
        pred, corr, _ = self.run(batch, obs_seq, correct)
        return pred, corr

    def run(
        self, batch: WindowBatch, obs_seq: Tensor, correct: bool = True
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """:meth:`forward`, plus the drive model's currents of the K steps ``(B, K, J)`` mA, each from
        the window the dynamics model predicted that step from (None without a drive model)."""
        base, q_hist = batch.a_seq, batch.q_hist
        history_len, horizon = q_hist.shape[1], batch.q_future.shape[1]
        b, _, j = base.shape
        window, obs_history = self.dynamics.window, self.residual.config.history
        # Before t0: the sim's history, its targets corrected on the sim's observations.
        if correct:
            past = self.residual(
                obs_seq[:, : history_len - 1].reshape(-1, obs_seq.shape[-1]),
                base[:, : history_len - 1].reshape(-1, j),
            ).view(b, history_len - 1, j)
        else:
            past = torch.zeros_like(base[:, : history_len - 1])
        # Index i of these lists is time t0 - H + 1 + i. The chain starts at the window's first
        # target (what came before it is not in the sample).
        sent: list[Tensor] = []
        for i in range(history_len - 1):
            sent.append(self._sent(base[:, i], past[:, i], sent[-1] if sent else None))
        q = list(q_hist.unbind(1))
        corrections, predictions, currents = [past], [], []
        tail = obs_seq[:, 0, -_TAIL:]
        for k in range(horizon):
            i = history_len - 1 + k
            if not correct:
                step_correction = torch.zeros_like(base[:, i])
            else:
                if self.mode == "closed_loop":
                    lag = self.obs_lag
                    obs = proprio_from_history(
                        torch.stack(q[i - obs_history + 1 : i + 1], 1),
                        base[:, i - obs_history + 1 - lag : i - lag + 1],
                        tail,
                    )
                else:
                    obs = obs_seq[:, i]
                step_correction = self.residual(obs, base[:, i])
            sent.append(self._sent(base[:, i], step_correction, sent[-1] if sent else None))
            corrections.append(step_correction[:, None])
            q_window = torch.stack(q[i - window + 1 : i + 1], 1)
            sent_window = torch.stack(sent[i - window + 1 : i + 1], 1)
            q_next = self.dynamics(q_window, sent_window)
            if self.drive is not None:
                currents.append(self.drive(q_window, sent_window))
            q.append(q_next)
            predictions.append(q_next)
        drive = torch.stack(currents, 1) if currents else None
        return torch.stack(predictions, 1), torch.cat(corrections, 1), drive


NO_GAP_RAD = 1e-6
"""Below this (a micro-radian) the model and the reference agree: there is no modelled gap."""


@dataclass
class ResidualEvaluation:
    """Error of the model's positions against the reference (``q^sim`` or the sim model's) on
    held-out windows, rad."""

    corrected_mae: float
    """Mean abs error over the ``horizon`` steps and joints, targets corrected by the residual."""
    uncorrected_mae: float
    """The same with the base targets alone: the gap the model predicts."""
    mean_abs_correction: float
    horizon: int
    num_windows: int
    drive_corrected_mae: float = math.nan
    """With a drive model: mean abs error of its currents against the sim's, mA, corrected."""
    drive_uncorrected_mae: float = math.nan
    """The same with the base targets alone."""
    objective: float = math.nan
    """With a drive model: the training objective without its correction penalty, mean squared
    position error over ``delta_std`` + ``drive_weight`` x current error over ``current_std``."""
    uncorrected_per_joint: tuple[float, ...] = ()
    """``uncorrected_mae`` per joint (sim order), rad: where the model puts the gap."""

    @property
    def closed_fraction(self) -> float:
        """Share of the predicted gap the residual closes (1 = all, 0 = none, < 0 = worse); NaN when
        there is no predicted gap (the model is its own reference), where no share is meaningful."""
        if self.uncorrected_mae < NO_GAP_RAD:
            return math.nan
        return 1.0 - self.corrected_mae / self.uncorrected_mae


@torch.no_grad()
def evaluate_residual(
    graph: ResidualRollout,
    data: ResidualEpisodes,
    horizon: int,
    max_windows: int | None,
    batch_size: int = 512,
    drive_weight: float = 0.0,
) -> ResidualEvaluation:
    """:class:`ResidualEvaluation` over (up to ``max_windows``, evenly spaced) windows of ``data``;
    the drive fields when ``graph`` has a drive model and ``data`` the sim's currents."""
    data = data.with_horizon(horizon)
    index = data.windows.evenly_spaced(max_windows)
    device = graph.joint_lower.device
    with_drive = graph.drive is not None and (
        data.motor_current is not None or graph.reference_drive is not None
    )
    was_training = graph.residual.training
    graph.residual.eval()
    sums = torch.zeros(6, dtype=torch.float64)
    gap_by_joint = torch.zeros(graph.joint_lower.shape[-1], dtype=torch.float64)
    try:
        for chunk in index.split(batch_size):
            batch, obs = data.gather(chunk)
            batch, obs = batch.to(device), obs.to(device)
            pred, corr, drive = graph.run(batch, obs)
            pred0, _, drive0 = graph.run(batch, obs, correct=False)
            reference, reference_current = graph.references(batch)
            gap = (pred0 - reference).abs().mean(dim=1)  # (B, J): the modelled gap, per joint
            row = [
                (pred - reference).abs().mean(dim=(1, 2)).sum(),
                gap.mean(dim=1).sum(),
                corr[:, -horizon:].abs().mean(dim=(1, 2)).sum(),
            ]
            if with_drive:
                assert drive is not None and drive0 is not None and graph.drive is not None
                current = scored_currents(data, chunk, reference_current, device)
                row += [
                    (drive - current).abs().mean(dim=(1, 2)).sum(),
                    (drive0 - current).abs().mean(dim=(1, 2)).sum(),
                    drive_objective(graph, pred, reference, drive, current, drive_weight).sum(),
                ]
            sums[: len(row)] += torch.stack(row).double().cpu()
            gap_by_joint += gap.sum(dim=0).double().cpu()
    finally:
        graph.residual.train(was_training)
    n = len(index)
    mean = (sums / n).tolist()
    per_joint = tuple((gap_by_joint / n).tolist())
    if not with_drive:
        return ResidualEvaluation(*mean[:3], horizon=horizon, num_windows=n, uncorrected_per_joint=per_joint)
    return ResidualEvaluation(*mean[:3], horizon, n, *mean[3:], uncorrected_per_joint=per_joint)


def largest_gaps(ev: ResidualEvaluation, count: int = 3) -> str:
    """The ``count`` joints with the largest modelled gap and the median joint's, in words. Where
    one joint's gap stands far above the rest, look at it before trusting the residual: in
    docs/results.md 4g the model whose residual failed put 115 mrad on th_cmc against a median
    of 17 (the two that worked: 24 against 10, and 58 on mf_pip against 12, so no ratio alone
    tells a bad model from a good one)."""
    gaps = np.asarray(ev.uncorrected_per_joint, dtype=np.float64)
    order = np.argsort(gaps)[::-1][:count]
    top = ", ".join(f"{C.JOINT_NAMES[j]} {1e3 * gaps[j]:.0f}" for j in order)
    return f"largest {top} mrad; median {1e3 * float(np.median(gaps)):.0f} mrad"


def scored_currents(
    data: ResidualEpisodes, index: Tensor, reference_current: Tensor | None, device: torch.device
) -> Tensor:
    """What the drive term scores windows ``index`` against ``(B, K, J)`` mA: the reference drive
    model's currents when :meth:`ResidualRollout.references` gave them, else the episodes'
    recorded (the sim's) currents."""
    if reference_current is not None:
        return reference_current
    return data.future_current(index).to(device)


def drive_objective(
    graph: ResidualRollout, pred: Tensor, reference: Tensor, drive: Tensor, current: Tensor, weight: float
) -> Tensor:
    """Per window ``(B,)``: mean squared position error over the dynamics model's ``delta_std``,
    plus ``weight`` x mean squared current error over the drive model's ``current_std``."""
    assert graph.drive is not None
    tracking = (((pred - reference) / graph.dynamics.delta_std) ** 2).mean(dim=(1, 2))
    return tracking + weight * (((drive - current) / graph.drive.current_std) ** 2).mean(dim=(1, 2))

"""Model structure: shapes, per-joint / per-finger independence, batching, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dexndm.dynamics.layers import GroupedLinear
from dexndm.dynamics.models import (
    DynamicsConfig,
    DynamicsModel,
    FingerWiseDynamics,
    JointWiseDynamics,
    WholeHandDynamics,
    build_dynamics,
)
from dexndm.hand.constants import FINGER_OF_JOINT, NUM_JOINTS

WINDOW = 10

KINDS = {"joint": JointWiseDynamics, "finger": FingerWiseDynamics, "whole": WholeHandDynamics}


def _normalised_model(kind: str, random_history, relative_inputs: bool = True) -> DynamicsModel:
    """A small model with non-trivial normalisation buffers, so the tests cover them too."""
    torch.manual_seed(0)
    model = KINDS[kind](window=WINDOW, hidden=(16, 8), relative_inputs=relative_inputs)
    q, a = random_history
    model.fit_normalization(q, a, q[:, -1] + 0.01 * torch.randn(q.shape[0], NUM_JOINTS))
    return model


def _history_jacobian(model: DynamicsModel, q: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``d q_next[j] / d (q_hist, a_hist)[w, i]`` for one sample, summed over w: ``(J_out, J_in)``."""
    jac_q, jac_a = torch.autograd.functional.jacobian(lambda qq, aa: model(qq, aa)[0], (q[:1], a[:1]))
    # jac_* is (J_out, 1, W, J_in); the sum of absolute values over the window marks any dependence.
    return jac_q.abs().sum(dim=(1, 2)) + jac_a.abs().sum(dim=(1, 2))


@pytest.mark.parametrize("kind", list(KINDS))
def test_shapes_and_rollout_matches_forward(kind, random_history):
    model = _normalised_model(kind, random_history)
    q, a = random_history
    q_next = model(q, a)
    assert q_next.shape == (5, NUM_JOINTS)
    # A 1-step rollout is the forward pass; a 3-step rollout feeds predictions back.
    a_seq = torch.cat([a, a[:, -1:].repeat(1, 2, 1)], dim=1)
    rolled = model.rollout(q, a_seq)
    assert rolled.shape == (5, 3, NUM_JOINTS)
    torch.testing.assert_close(model.rollout(q, a), q_next.unsqueeze(1))
    q_second = model(torch.cat([q[:, 1:], q_next[:, None]], dim=1), a_seq[:, 1 : 1 + WINDOW])
    torch.testing.assert_close(rolled[:, 1], q_second)


def test_wrong_shapes_are_refused(random_history):
    model = JointWiseDynamics(window=WINDOW, hidden=(8,))
    q, a = random_history
    with pytest.raises(ValueError, match="W=10"):
        model(q[:, 1:], a[:, 1:])
    with pytest.raises(ValueError, match="W \\+ K - 1"):
        model.rollout(q, a[:, :-1])


@pytest.mark.parametrize("relative_inputs", [True, False])
def test_joint_wise_output_depends_only_on_own_joint(random_history, relative_inputs):
    model = _normalised_model("joint", random_history, relative_inputs)
    q, a = random_history
    dependence = _history_jacobian(model, q, a)
    assert torch.all(dependence.diagonal() > 0)
    assert torch.count_nonzero(dependence - torch.diag(dependence.diagonal())) == 0
    # Perturbing joint 3's whole history moves joint 3's prediction and nothing else, exactly.
    q2, a2 = q.clone(), a.clone()
    q2[:, :, 3] += 0.2
    a2[:, :, 3] -= 0.3
    changed = (model(q2, a2) != model(q, a)).any(dim=0)
    assert changed.nonzero().flatten().tolist() == [3]


def test_finger_wise_output_depends_only_on_own_finger(random_history):
    model = _normalised_model("finger", random_history)
    q, a = random_history
    dependence = _history_jacobian(model, q, a) > 0
    same_finger = torch.as_tensor(FINGER_OF_JOINT[:, None] == FINGER_OF_JOINT[None, :])
    assert torch.equal(dependence, same_finger)


def test_whole_hand_output_depends_on_all_joints(random_history):
    # The control case: the Jacobian test above would catch a model that mixes joints.
    model = _normalised_model("whole", random_history)
    q, a = random_history
    assert torch.all(_history_jacobian(model, q, a) > 0)


def _reference_loop(model: DynamicsModel, features: torch.Tensor, groups: list[list[int]]) -> torch.Tensor:
    """The slow per-group evaluation: for each group, its inputs through its own weight slices."""
    layers = list(model.net.layers)
    out = torch.empty(features.shape[0], NUM_JOINTS)
    for g, joints in enumerate(groups):
        h = features[:, joints, :].reshape(features.shape[0], -1)
        for layer in layers:
            if isinstance(layer, GroupedLinear):
                h = F.linear(h, layer.weight[g].T, layer.bias[g, 0])
            else:
                h = layer(h)
        out[:, joints] = h
    return out


@pytest.mark.parametrize("kind", ["joint", "finger"])
def test_batched_forward_equals_per_group_loop(kind, random_history):
    model = _normalised_model(kind, random_history)
    q, a = random_history
    groups = (
        [[j] for j in range(NUM_JOINTS)]
        if kind == "joint"
        else [[j for j in range(NUM_JOINTS) if FINGER_OF_JOINT[j] == f] for f in range(4)]
    )
    with torch.no_grad():
        x = (model.encode(q, a) - model.input_mean) / model.input_std
        expected = q[:, -1] + model.delta_mean + model.delta_std * _reference_loop(model, x, groups)
        torch.testing.assert_close(model(q, a), expected, rtol=1e-5, atol=1e-6)


def test_gradients_reach_targets_through_frozen_model(random_history):
    # The residual policy backpropagates through the frozen model to the commanded targets.
    model = _normalised_model("joint", random_history).requires_grad_(False).eval()
    q, a = random_history
    a = a.clone().requires_grad_(True)
    model(q, a).sum().backward()
    assert a.grad is not None and torch.all(a.grad[:, -1].abs() > 0)
    # ... also through a multi-step rollout, reaching targets applied after the first window.
    a_seq = torch.cat([a.detach(), a.detach()[:, -3:]], dim=1).requires_grad_(True)
    model.rollout(q, a_seq)[:, -1].sum().backward()
    assert torch.all(a_seq.grad[:, WINDOW:].abs().sum(dim=1) > 0)
    assert all(p.grad is None for p in model.parameters())


def test_parameters_are_per_joint_in_shape():
    model = JointWiseDynamics(window=WINDOW, hidden=(32, 32))
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [
        (16, 2 * WINDOW, 32), (16, 1, 32), (16, 32, 32), (16, 1, 32), (16, 32, 1), (16, 1, 1)
    ]  # fmt: skip


@pytest.mark.parametrize("kind", list(KINDS))
def test_config_round_trip_rebuilds_the_same_model(kind):
    model = KINDS[kind](window=4, hidden=(8,))
    config = DynamicsConfig.from_dict(model.config.to_dict())
    assert config == model.config
    rebuilt = build_dynamics(config)
    assert type(rebuilt) is type(model)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="unknown DynamicsConfig fields \\['colour'\\]"):
        DynamicsConfig.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match="same number of joints"):
        FingerWiseDynamics(num_joints=3, finger_of_joint=(0, 0, 1))
    with pytest.raises(ValueError, match="unknown activation"):
        JointWiseDynamics(activation="gelu2")

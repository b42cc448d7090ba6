"""Quaternion helpers against independent references: rotation matrices built from axis-angle
(Rodrigues), np.cross, and the Hamilton product's defining identities."""

from __future__ import annotations

import numpy as np

from dexndm.sim.rotations import (
    cross3,
    quat_from_axis_angle,
    quat_mul,
    quat_rotate,
    quat_rotate_inv,
    quat_to_matrix,
    random_quat,
)

RNG = np.random.default_rng(0)


def rodrigues(axis: np.ndarray, angle: float) -> np.ndarray:
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def test_rotation_matches_rodrigues():
    for _ in range(20):
        axis, angle, v = RNG.normal(size=3), RNG.uniform(-np.pi, np.pi), RNG.normal(size=3)
        q = quat_from_axis_angle(axis, angle)
        want = rodrigues(axis, angle) @ v
        np.testing.assert_allclose(quat_rotate(q, v), want, atol=1e-12)
        np.testing.assert_allclose(quat_to_matrix(q), rodrigues(axis, angle), atol=1e-12)
        np.testing.assert_allclose(quat_rotate_inv(q, want), v, atol=1e-12)


def test_leading_dimensions_broadcast():
    q, v = random_quat(RNG, 5), RNG.normal(size=(5, 7, 3))
    out = quat_rotate(q[:, None], v)  # one quaternion per row, seven vectors each
    assert out.shape == (5, 7, 3)
    for i in range(5):
        np.testing.assert_allclose(out[i], v[i] @ quat_to_matrix(q[i]).T, atol=1e-12)
    # the row-vector form the env uses: vs @ R applies the inverse rotation
    np.testing.assert_allclose(v @ quat_to_matrix(q), quat_rotate_inv(q[:, None], v), atol=1e-12)
    # one vector for many quaternions, and plain lists
    np.testing.assert_allclose(quat_rotate(q, [0.0, 0.0, 1.0]), quat_to_matrix(q)[:, :, 2], atol=1e-12)


def test_product_composes_rotations():
    a, b, v = random_quat(RNG, 9), random_quat(RNG, 9), RNG.normal(size=(9, 3))
    np.testing.assert_allclose(quat_rotate(quat_mul(a, b), v), quat_rotate(a, quat_rotate(b, v)), atol=1e-12)
    i, j, k = np.eye(4)[1:]
    np.testing.assert_array_equal(quat_mul(i, j), k)  # Hamilton: ij = k, ji = -k
    np.testing.assert_array_equal(quat_mul(j, i), -k)
    np.testing.assert_allclose(quat_mul(a[:, None], np.stack([b, a], 1))[:, 1], quat_mul(a, a), atol=1e-15)


def test_cross3_is_the_cross_product():
    a, b = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))
    np.testing.assert_allclose(cross3(a, b), np.cross(a, b), atol=1e-15)
    np.testing.assert_allclose(cross3(a[:, None], b[None]), np.cross(a[:, None], b[None]), atol=1e-15)

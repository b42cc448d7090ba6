"""Signed distance fields and a watertight mesher, in plain numpy (no scikit-image, no scipy).

Shapes are built as signed distance fields (SDFs: negative inside, metres or any consistent unit)
from ellipsoids, capsules, rounded boxes, cylinders and tori, combined with smooth unions. The
mesher extracts the zero level set with *marching tetrahedra* on the Kuhn (Freudenthal)
triangulation of a regular grid: the isosurface of a piecewise-linear field on a conforming
tetrahedral mesh is a closed 2-manifold whenever no grid value is exactly zero, so the output is
watertight by construction (no case tables with ambiguities as in marching cubes). Vertices are
then smoothed (Taubin, which does not shrink the shape) and projected back onto the exact zero set,
so the surface is accurate even on a coarse grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import permutations

import numpy as np

SDF = Callable[[np.ndarray], np.ndarray]
"""A signed distance function: points (N, 3) -> values (N,), negative inside."""


# ---- Primitives -------------------------------------------------------------------------------


def _rotation(axis: Sequence[float] | None) -> np.ndarray:
    """Rotation matrix whose third column is the unit ``axis`` (identity for None or +z)."""
    if axis is None:
        return np.eye(3)
    z = np.asarray(axis, float)
    z = z / np.linalg.norm(z)
    helper = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def _local(p: np.ndarray, center: Sequence[float], axis: Sequence[float] | None) -> np.ndarray:
    """Points expressed in a frame at ``center`` whose z axis is ``axis``."""
    return (p - np.asarray(center, float)) @ _rotation(axis)


def sphere(center: Sequence[float], radius: float) -> SDF:
    c = np.asarray(center, float)
    return lambda p: np.linalg.norm(p - c, axis=1) - radius


def ellipsoid(center: Sequence[float], radii: Sequence[float], axis: Sequence[float] | None = None) -> SDF:
    """Ellipsoid with semi-axes ``radii`` along the local axes (local z = ``axis``).

    Uses the standard first-order distance estimate; its zero set is the exact ellipsoid.
    """
    r = np.asarray(radii, float)

    def f(p: np.ndarray) -> np.ndarray:
        q = _local(p, center, axis)
        k0 = np.linalg.norm(q / r, axis=1)
        k1 = np.linalg.norm(q / (r * r), axis=1)
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)

    return f


def capsule(a: Sequence[float], b: Sequence[float], radius: float, radius_b: float | None = None) -> SDF:
    """Capsule between points ``a`` and ``b``; with ``radius_b`` a tapered capsule (cone-like).

    The tapered variant linearly interpolates the radius along the segment, which is an adequate
    distance estimate for the mild tapers used here.
    """
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    ab = b_ - a_
    rb = radius if radius_b is None else radius_b

    def f(p: np.ndarray) -> np.ndarray:
        t = np.clip(((p - a_) @ ab) / (ab @ ab), 0.0, 1.0)
        d = np.linalg.norm(p - (a_ + t[:, None] * ab), axis=1)
        return d - (radius + t * (rb - radius))

    return f


def round_box(
    center: Sequence[float], half: Sequence[float], rounding: float, axis: Sequence[float] | None = None
) -> SDF:
    """Box of half extents ``half`` (outer size) with edges rounded by ``rounding``."""
    h = np.asarray(half, float) - rounding

    def f(p: np.ndarray) -> np.ndarray:
        q = np.abs(_local(p, center, axis)) - h
        outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
        inside = np.minimum(q.max(axis=1), 0.0)
        return outside + inside - rounding

    return f


def cylinder(
    center: Sequence[float], radius: float, half_length: float, rounding: float = 0.0,
    axis: Sequence[float] | None = None,
) -> SDF:  # fmt: skip
    """Solid cylinder along local z (= ``axis``), rims rounded by ``rounding``."""

    def f(p: np.ndarray) -> np.ndarray:
        q = _local(p, center, axis)
        d = np.stack(
            [np.hypot(q[:, 0], q[:, 1]) - radius + rounding, np.abs(q[:, 2]) - half_length + rounding],
            axis=1,
        )
        outside = np.linalg.norm(np.maximum(d, 0.0), axis=1)
        return outside + np.minimum(d.max(axis=1), 0.0) - rounding

    return f


def torus(center: Sequence[float], major: float, minor: float, axis: Sequence[float] | None = None) -> SDF:
    """Torus around local z (= ``axis``): ring radius ``major``, tube radius ``minor``."""

    def f(p: np.ndarray) -> np.ndarray:
        q = _local(p, center, axis)
        ring = np.hypot(q[:, 0], q[:, 1]) - major
        return np.hypot(ring, q[:, 2]) - minor

    return f


# ---- Combinators ------------------------------------------------------------------------------


def smooth_union(*fs: SDF, k: float = 0.0) -> SDF:
    """Union of shapes; ``k`` > 0 blends them with a fillet of about ``k`` (polynomial smooth min).

    Blending matters beyond looks: a crease-free union has no sharp inner edges where the
    projected mesh could fold.
    """

    def f(p: np.ndarray) -> np.ndarray:
        d = fs[0](p)
        for g in fs[1:]:
            e = g(p)
            if k <= 0:
                d = np.minimum(d, e)
            else:
                h = np.clip(0.5 + 0.5 * (e - d) / k, 0.0, 1.0)
                d = e + (d - e) * h - k * h * (1.0 - h)
        return d

    return f


def smooth_subtract(base: SDF, cut: SDF, k: float = 0.0) -> SDF:
    """``base`` with ``cut`` removed; ``k`` > 0 rounds the new edges."""

    def f(p: np.ndarray) -> np.ndarray:
        a, b = base(p), -cut(p)
        if k <= 0:
            return np.maximum(a, b)
        h = np.clip(0.5 - 0.5 * (b - a) / k, 0.0, 1.0)
        return b + (a - b) * h + k * h * (1.0 - h)

    return f


def intersect(a: SDF, b: SDF) -> SDF:
    return lambda p: np.maximum(a(p), b(p))


def half_space(normal: Sequence[float], offset: float) -> SDF:
    """The solid ``n . p <= offset`` (n normalised): cut a shape flat with ``intersect``."""
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    return lambda p: p @ n - offset


# ---- Mesher -----------------------------------------------------------------------------------

# Kuhn triangulation of the unit cube: one tetrahedron per axis permutation, each walking from
# corner (0,0,0) to (1,1,1) one axis at a time. Neighbouring cubes then share faces exactly, which
# is what makes the extracted surface watertight.
_KUHN_TETS = np.array(
    [[np.zeros(3, int), np.eye(3, dtype=int)[p[0]], np.eye(3, dtype=int)[p[0]] + np.eye(3, dtype=int)[p[1]],
      np.ones(3, int)] for p in permutations(range(3))]
)  # fmt: skip  # (6 tets, 4 corners, 3 offsets)


def marching_tetrahedra(
    values: np.ndarray, origin: np.ndarray, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Closed triangle mesh of the zero level set of a field sampled on a regular grid.

    Args:
        values: field (nx, ny, nz), negative inside; must be positive on the grid's border.
        origin: position (3,) of grid point (0, 0, 0).
        spacing: grid step, same units as origin.

    Returns:
        vertices (V, 3) float64 and faces (F, 3) int64, outward (counter-clockwise) winding.
    """
    vals = np.where(values == 0.0, 1e-12, values)  # an exact zero would pinch the surface
    nx, ny, nz = vals.shape
    flat = vals.ravel()
    # Only cubes whose corners straddle zero produce triangles; find them on the corner grid.
    corners = np.stack(
        [vals[i : nx - 1 + i, j : ny - 1 + j, k : nz - 1 + k] for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    )
    active = np.argwhere((corners.min(0) < 0) & (corners.max(0) > 0))  # (C, 3) cube origins
    gidx = active[:, None, None, :] + _KUHN_TETS[None]  # (C, 6, 4, 3) grid coords
    gidx = gidx.reshape(-1, 4, 3)
    lin = (gidx[..., 0] * ny + gidx[..., 1]) * nz + gidx[..., 2]  # (T, 4) linear grid index
    f = flat[lin]
    inside = f < 0
    n_in = inside.sum(1)

    tris: list[np.ndarray] = []  # each (M, 3, 2): per triangle vertex, the grid edge (i, j)
    refs: list[np.ndarray] = []  # a grid point known to be inside, to orient the triangle
    # One vertex on its own (1 inside or 3 inside): one triangle cutting the lone vertex's edges.
    for count in (1, 3):
        sel = n_in == count
        if not sel.any():
            continue
        lone_is_inside = count == 1
        lone_mask = inside[sel] if lone_is_inside else ~inside[sel]
        order = np.argsort(~lone_mask, axis=1, kind="stable")  # lone vertex first
        t = np.take_along_axis(lin[sel], order, axis=1)
        a, b, c, d = t.T
        tris.append(np.stack([np.stack([a, b], 1), np.stack([a, c], 1), np.stack([a, d], 1)], 1))
        refs.append(a if lone_is_inside else b)
    # Two inside, two outside: a quad on edges (in0,out0) (in0,out1) (in1,out1) (in1,out0).
    sel = n_in == 2
    if sel.any():
        order = np.argsort(~inside[sel], axis=1, kind="stable")  # inside vertices first
        t = np.take_along_axis(lin[sel], order, axis=1)
        i0, i1, o0, o1 = t.T
        e00, e01 = np.stack([i0, o0], 1), np.stack([i0, o1], 1)
        e11, e10 = np.stack([i1, o1], 1), np.stack([i1, o0], 1)
        tris.append(np.stack([e00, e01, e11], 1))
        tris.append(np.stack([e00, e11, e10], 1))
        refs += [i0, i0]
    edges = np.concatenate(tris)  # (F, 3, 2)
    ref = np.concatenate(refs)

    # One vertex per grid edge, shared by every triangle that cuts that edge.
    lo, hi = edges.min(-1), edges.max(-1)
    keys = lo.astype(np.int64) * flat.size + hi
    uniq, inv = np.unique(keys.ravel(), return_inverse=True)
    faces = inv.reshape(-1, 3)
    ea, eb = uniq // flat.size, uniq % flat.size
    fa, fb = flat[ea], flat[eb]
    t = fa / (fa - fb)

    def pos(li: np.ndarray) -> np.ndarray:
        ijk = np.stack(np.unravel_index(li, vals.shape), axis=1)
        return origin + spacing * ijk

    pa, pb = pos(ea), pos(eb)
    verts = pa + t[:, None] * (pb - pa)

    # Orient each triangle so its normal points away from the inside grid point of its tetrahedron.
    tri = verts[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", normal, tri.mean(1) - pos(ref)) < 0
    faces[flip] = faces[flip][:, ::-1]
    return verts, faces


def surface_nets(values: np.ndarray, origin: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed triangle mesh of the zero level set by naive surface nets (dual contouring).

    One vertex per grid cube that the surface crosses (at the mean of its edge crossings) and one
    quad per crossed grid edge, joining the four cubes around it. About 2 triangles per surface
    cell, a third of what marching tetrahedra makes, with well-shaped triangles. The result is
    closed, but a cube or face with an ambiguous sign pattern (two sheets closer than a cell) makes
    it non-manifold: callers check with ``is_closed_manifold`` and fall back to
    ``marching_tetrahedra``.

    Args and returns as ``marching_tetrahedra``.
    """
    vals = np.where(values == 0.0, 1e-12, values)
    shape = np.array(vals.shape)
    inside = vals < 0
    cshape = tuple(shape - 1)
    corner_off = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    corners_in = np.stack(
        [inside[i : shape[0] - 1 + i, j : shape[1] - 1 + j, k : shape[2] - 1 + k] for i, j, k in corner_off]
    )
    n_in = corners_in.sum(0)
    active = (n_in > 0) & (n_in < 8)
    cube_id = -np.ones(cshape, dtype=np.int64)
    cubes = np.argwhere(active)
    cube_id[tuple(cubes.T)] = np.arange(len(cubes))

    # Vertex: mean of the crossing points on the cube's 12 edges.
    acc = np.zeros((len(cubes), 3))
    cnt = np.zeros(len(cubes))
    for a in range(3):
        for du in (0, 1):
            for dv in (0, 1):
                off = np.zeros(3, int)
                b, c = [x for x in range(3) if x != a]
                off[b], off[c] = du, dv
                p0 = cubes + off
                p1 = p0.copy()
                p1[:, a] += 1
                f0, f1 = vals[tuple(p0.T)], vals[tuple(p1.T)]
                cross = (f0 < 0) != (f1 < 0)
                t = np.where(cross, f0 / np.where(cross, f0 - f1, 1.0), 0.0)
                pt = p0 + t[:, None] * (p1 - p0)
                acc += cross[:, None] * pt
                cnt += cross
    verts = origin + spacing * acc / np.maximum(cnt, 1)[:, None]

    # Quads: one per crossed grid edge, around it counter-clockwise seen from the outside.
    quads = []
    for a in range(3):
        b, c = (a + 1) % 3, (a + 2) % 3  # (a, b, c) right-handed
        sl0 = [slice(None)] * 3
        sl1 = [slice(None)] * 3
        sl0[a] = slice(0, shape[a] - 1)
        sl1[a] = slice(1, shape[a])
        i0, i1 = inside[tuple(sl0)], inside[tuple(sl1)]
        crossed = np.argwhere(i0 != i1)  # edge start points; the edge runs +a
        # Only edges with all four surrounding cubes inside the grid (always, given the padding).
        ok = (
            (crossed[:, b] > 0)
            & (crossed[:, c] > 0)
            & (crossed[:, b] < shape[b] - 1)
            & (crossed[:, c] < shape[c] - 1)
        )
        crossed = crossed[ok]
        outward_pos = i0[tuple(crossed.T)]  # inside at the start: the normal points +a
        ring = []
        for db, dc in ((-1, -1), (0, -1), (0, 0), (-1, 0)):  # counter-clockwise in the (b, c) plane
            q = crossed.copy()
            q[:, b] += db
            q[:, c] += dc
            ring.append(cube_id[tuple(q.T)])
        ring = np.stack(ring, 1)
        ring[~outward_pos] = ring[~outward_pos][:, ::-1]
        quads.append(ring)
    quads = np.concatenate(quads)
    # Split each quad along its shorter diagonal: fewer slivers.
    d02 = np.linalg.norm(verts[quads[:, 0]] - verts[quads[:, 2]], axis=1)
    d13 = np.linalg.norm(verts[quads[:, 1]] - verts[quads[:, 3]], axis=1)
    use02 = d02 <= d13
    t02 = np.concatenate([quads[use02][:, [0, 1, 2]], quads[use02][:, [0, 2, 3]]])
    t13 = np.concatenate([quads[~use02][:, [0, 1, 3]], quads[~use02][:, [1, 2, 3]]])
    return verts, np.concatenate([t02, t13])


def is_closed_manifold(faces: np.ndarray, n_verts: int) -> bool:
    """True if every edge joins exactly two faces with opposite directions (closed, consistently
    wound) and every vertex's faces form a single fan (no pinched vertices)."""
    faces = np.asarray(faces)
    if len(faces) == 0:
        return False
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    if np.any(directed[:, 0] == directed[:, 1]):
        return False
    # Closed and consistently wound: each directed edge once, and its reverse present.
    key = directed[:, 0].astype(np.int64) * n_verts + directed[:, 1]
    rkey = directed[:, 1].astype(np.int64) * n_verts + directed[:, 0]
    if len(np.unique(key)) != len(key) or not np.isin(rkey, key).all():
        return False
    # Single fan per vertex: walk around each vertex from face to face across shared edges; the
    # walk is a permutation of face corners, and a vertex is a manifold point iff its corners form
    # one cycle. So: number of cycles == number of vertices used.
    n_f = len(faces)
    # corner c = 3 f + i holds vertex faces[f, i]; its outgoing edge is (faces[f,i], faces[f,i+1]).
    out_key = (faces.astype(np.int64) * n_verts + np.roll(faces, -1, axis=1)).ravel()
    order = np.argsort(out_key)
    sorted_keys = out_key[order]
    # Around vertex v, from corner (f, v) with incoming edge (p -> v) where p = previous vertex,
    # the neighbouring face across edge (v -> p) has an outgoing edge (v -> p) at its corner of v.
    prev = np.roll(faces, 1, axis=1).ravel()
    vtx = faces.ravel()
    want = vtx.astype(np.int64) * n_verts + prev
    pos = np.searchsorted(sorted_keys, want)
    nxt = order[pos]  # successor corner, same vertex
    # Count cycles of the permutation nxt.
    seen = np.zeros(3 * n_f, bool)
    cycles = 0
    for start in range(3 * n_f):
        if seen[start]:
            continue
        cycles += 1
        c = start
        while not seen[c]:
            seen[c] = True
            c = nxt[c]
    used = len(np.unique(vtx))
    return cycles == used


def _vertex_neighbours(faces: np.ndarray, n_verts: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique undirected edges (E, 2) and each vertex's degree."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    deg = np.bincount(e.ravel(), minlength=n_verts)
    return e, deg


def taubin_smooth(
    verts: np.ndarray, faces: np.ndarray, iterations: int = 10, lam: float = 0.5, mu: float = -0.53
) -> np.ndarray:
    """Taubin (lambda|mu) smoothing: removes the grid's staircase noise without shrinking."""
    e, deg = _vertex_neighbours(faces, len(verts))
    deg = np.maximum(deg, 1)[:, None]
    v = verts.copy()
    for _ in range(iterations):
        for w in (lam, mu):
            acc = np.zeros_like(v)
            np.add.at(acc, e[:, 0], v[e[:, 1]])
            np.add.at(acc, e[:, 1], v[e[:, 0]])
            v = v + w * (acc / deg - v)
    return v


def project_to_surface(sdf: SDF, verts: np.ndarray, step: float, iterations: int = 4) -> np.ndarray:
    """Newton steps ``x -= f(x) grad f / |grad f|^2`` onto the zero set (central differences).

    Each step moves a vertex at most ``step`` (a grid cell) so a vertex near a thin feature cannot
    jump across it to another sheet of the surface.
    """
    h = step * 0.05
    v = verts.copy()
    offsets = np.eye(3) * h
    for _ in range(iterations):
        d = sdf(v)
        grad = np.stack([(sdf(v + o) - sdf(v - o)) / (2 * h) for o in offsets], axis=1)
        g2 = np.maximum((grad * grad).sum(1), 1e-12)
        move = -(d / g2)[:, None] * grad
        norm = np.linalg.norm(move, axis=1, keepdims=True)
        v = v + move * np.minimum(1.0, step / np.maximum(norm, 1e-15))
    return v


def mesh_sdf(
    sdf: SDF,
    bounds: np.ndarray,
    resolution: int = 40,
    smooth_iterations: int = 8,
    shift: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Watertight mesh of ``sdf`` inside ``bounds`` (2, 3).

    Args:
        sdf: the shape, negative inside.
        bounds: a box (2, 3) that contains the shape; padded here by two grid cells.
        resolution: grid cells along the box's longest side; sets the triangle count
            (about 2-3 x resolution^2 faces for a blob).
        smooth_iterations: Taubin iterations before projecting back onto the surface.
        shift: internal retry counter.

    Returns:
        vertices (V, 3) float64 and faces (F, 3) int64, outward winding.
    """
    lo, hi = np.asarray(bounds, float)
    spacing = float((hi - lo).max()) / resolution
    # Pad by two cells and shift by an irrational fraction of a cell: symmetric shapes would
    # otherwise put grid points exactly on the surface.
    origin = lo - 2.0 * spacing - 0.3183 * spacing
    n = np.ceil((hi - origin) / spacing).astype(int) + 3
    axes = [origin[i] + spacing * np.arange(n[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    values = sdf(grid).reshape(n)
    verts, faces = surface_nets(values, origin, spacing)
    if not is_closed_manifold(faces, len(verts)):
        # Two sheets of surface closer than a grid cell somewhere (an ambiguous cube). A slightly
        # different grid usually resolves it; if not, marching tetrahedra is always manifold.
        if shift < 2:
            return mesh_sdf(sdf, bounds, resolution + 1, smooth_iterations, shift=shift + 1)
        verts, faces = marching_tetrahedra(values, origin, spacing)
    verts = taubin_smooth(verts, faces, iterations=smooth_iterations)
    verts = project_to_surface(sdf, verts, step=spacing)
    return verts, faces


def mesh_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume of a closed, outward-wound triangle mesh (divergence theorem), units^3."""
    tri = np.asarray(verts, float)[np.asarray(faces)]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def sdf_bounds(sdf: SDF, box: float = 1.5, resolution: int = 48) -> np.ndarray:
    """Bounding box (2, 3) of the inside of ``sdf`` found on a coarse grid over [-box, box]^3.

    Padded by one coarse cell so the fine grid surely contains the shape.
    """
    ax = np.linspace(-box, box, resolution)
    grid = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)
    inside = grid[sdf(grid) < 0]
    if len(inside) == 0:
        raise ValueError("the shape is empty on the search grid")
    cell = ax[1] - ax[0]
    return np.stack([inside.min(0) - cell, inside.max(0) + cell])


def convex_hull_properties(points: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Volume, centroid (3,) and inertia tensor (3, 3) per unit density about the centroid of the
    convex hull of ``points`` (N, 3).

    Computed by MuJoCo's own hull (qhull inside MuJoCo), so it agrees exactly with the collision
    shape MuJoCo builds from the same vertices, and needs no scipy.
    """
    import mujoco

    spec = mujoco.MjSpec()
    mesh = spec.add_mesh()
    mesh.name = "hull"
    mesh.uservert = np.asarray(points, float).ravel().tolist()
    mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_CONVEX
    body = spec.worldbody.add_body()
    body.add_freejoint()
    geom = body.add_geom()
    geom.type = mujoco.mjtGeom.mjGEOM_MESH
    geom.meshname = "hull"
    geom.density = 1.0
    model = spec.compile()
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, model.body_iquat[1])
    rot = rot.reshape(3, 3)
    inertia = rot @ np.diag(model.body_inertia[1]) @ rot.T
    return float(model.body_mass[1]), model.body_ipos[1].copy(), inertia

"""User meshes (.obj, .stl) as simulated objects: validate, centre, decompose, cache.

A mesh must describe a closed solid of hand size, because the simulator needs its volume (mass,
inertia) and its inside (convex decomposition). Anything else gets an ``ObjectError`` that says
what is wrong and how to fix it in the modelling tool. Valid meshes are moved so the object frame
origin is the centre of mass (axes kept as exported), and convex-decomposed with CoACD. The parts
are cached in ``$DEXNDM_CACHE/objects/`` (default ``~/.cache/dexndm/objects/``), keyed by the
file's SHA-256, the scale and the CoACD settings, so each mesh is decomposed once per machine.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .decompose import IMPORT_SETTINGS, DecompositionSettings, convex_decompose
from .meshing import convex_hull_properties
from .spec import DEFAULT_DENSITY, ObjectError, ObjectSpec

log = logging.getLogger(__name__)

MESH_SUFFIXES: tuple[str, ...] = (".obj", ".stl")
MIN_MAX_EXTENT = 0.02
"""m. A largest dimension below this is smaller than a fingertip (~0.03 m on the LEAP hand)."""
MAX_MAX_EXTENT = 0.20
"""m. A largest dimension above this is twice the palm width: the hand cannot hold it."""
CONVEX_TOLERANCE = 1.01
"""A mesh whose convex hull is within 1% of its volume is used as a single convex part."""
_CACHE_FORMAT = 1


def cache_dir() -> Path:
    """Folder of cached decompositions: ``$DEXNDM_CACHE/objects`` or ``~/.cache/dexndm/objects``.

    ``DEXNDM_CACHE`` names dexndm's cache root (shared with other dexndm caches), hence the
    ``objects`` subfolder.
    """
    root = os.environ.get("DEXNDM_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "dexndm"
    return base / "objects"


FILE_UNITS: tuple[tuple[str, float], ...] = (("metres", 1.0), ("centimetres", 0.01), ("millimetres", 0.001))
"""What a mesh file's numbers may mean. STL and OBJ carry no unit; the hand-size window
[MIN_MAX_EXTENT, MAX_MAX_EXTENT] is narrower than a factor of 10, so at most one of these puts a
file's largest dimension inside it, and that one is how the file is read."""


_UNIT_WARNED: set[str] = set()


def file_units(max_extent: float) -> tuple[str, float] | None:
    """(unit name, metres per file unit) that makes ``max_extent`` (in file units) hand size;
    None when none does."""
    for name, metres in FILE_UNITS:
        if MIN_MAX_EXTENT <= max_extent * metres <= MAX_MAX_EXTENT:
            return name, metres
    return None


def _scale_hint(max_extent: float) -> str:
    """How to bring a mesh of largest dimension ``max_extent`` (as read, m) to hand size."""
    return (
        "Scale it in your modelling tool to hand size, e.g. 80 mm across exported in millimetres "
        "(dexndm reads a file in metres, centimetres or millimetres, whichever makes it hand size), "
        f"or pass scale={0.08 / max_extent:.3g} to load_mesh_object"
    )


def _read(path: Path):
    import trimesh

    try:
        # process=True merges the duplicate vertices of STL triangle soups, which is what lets
        # us ask whether edges are shared, i.e. whether the surface is closed.
        mesh = trimesh.load(path, force="mesh", process=True)
    except Exception as e:  # trimesh raises many types for malformed files
        raise ObjectError(f"could not read mesh {path}: {e}. Re-export it as .obj or binary .stl.") from e
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ObjectError(f"mesh {path} has no triangles. Export the object's geometry as .obj or .stl.")
    return mesh


def validate_mesh(mesh, source: str) -> None:
    """Raise ObjectError unless ``mesh`` (a trimesh.Trimesh, metres) is a closed, hand-size solid.

    Checks, in order: not flat, closed (watertight), consistently wound, positive volume, largest
    dimension in [MIN_MAX_EXTENT, MAX_MAX_EXTENT].
    """
    ext = np.asarray(mesh.extents, float)
    if ext.max() <= 0 or ext.min() <= 1e-6 * ext.max():
        raise ObjectError(
            f"mesh {source} has zero volume: it is flat (extents {np.round(ext, 6).tolist()} m), a "
            "surface rather than a solid. Model the object as a closed solid with thickness "
            "(e.g. Solidify in Blender)."
        )
    if not mesh.is_watertight:
        n_open = _open_edge_count(mesh)
        raise ObjectError(
            f"mesh {source} is not watertight: {n_open} edges border a hole, so it is not a closed "
            "solid and has no well-defined volume or inside. Close the holes (Blender: Select > "
            "Select All by Trait > Non Manifold, then Fill; MeshLab: Close Holes; or the 3D-Print "
            "Toolbox), or re-export without splitting vertices by normals/UVs."
        )
    if not mesh.is_winding_consistent:
        raise ObjectError(
            f"mesh {source} has inconsistently wound faces (some normals point in, some out), so "
            "its volume is undefined. Recalculate normals outside (Blender: Mesh > Normals > "
            "Recalculate Outside) and re-export."
        )
    volume = float(mesh.volume)
    bbox_volume = float(np.prod(ext))
    if abs(volume) <= 1e-6 * bbox_volume:
        raise ObjectError(
            f"mesh {source} has zero volume ({volume:.3g} m^3): its surface encloses no space. "
            "Model the object as a closed solid with thickness."
        )
    if volume < 0:
        raise ObjectError(
            f"mesh {source} has negative volume ({volume:.3g} m^3): it is inside out (faces wound "
            "clockwise seen from outside). Flip its normals (Blender: Mesh > Normals > Flip, or "
            "Recalculate Outside) and re-export."
        )
    if not MIN_MAX_EXTENT <= ext.max() <= MAX_MAX_EXTENT:
        raise ObjectError(
            f"mesh {source} is {ext.max():.4g} m across at its largest, outside the "
            f"{MIN_MAX_EXTENT}-{MAX_MAX_EXTENT} m the LEAP hand can hold (palm ~0.1 m wide). "
            f"{_scale_hint(float(ext.max()))}."
        )


def _open_edge_count(mesh) -> int:
    """Edges used by exactly one face (the rims of holes)."""
    edges = np.sort(np.asarray(mesh.edges), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int((counts == 1).sum())


def _file_key(path: Path, scale: float, settings: DecompositionSettings) -> str:
    h = hashlib.sha256()
    h.update(path.read_bytes())
    h.update(f"|scale={scale!r}|{settings.key()}|format={_CACHE_FORMAT}".encode())
    return h.hexdigest()[:24]


def _cached_parts(
    path: Path, mesh, scale: float, settings: DecompositionSettings, use_cache: bool
) -> list[np.ndarray]:
    """Convex parts of the centred, scaled ``mesh``, from the cache when possible."""
    cache_file = cache_dir() / f"{path.stem}-{_file_key(path, scale, settings)}.npz"
    if use_cache and cache_file.exists():
        try:
            with np.load(cache_file) as z:
                return np.split(z["parts"], np.cumsum(z["part_sizes"])[:-1])
        except (OSError, ValueError, KeyError):
            pass  # a truncated or foreign file: recompute and overwrite
    verts, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    hull_volume = convex_hull_properties(verts)[0]
    if hull_volume <= CONVEX_TOLERANCE * float(mesh.volume):
        parts = [verts.copy()]  # already convex: MuJoCo takes the hull of these vertices
    else:
        log.info("decomposing %s (%d faces) with CoACD; cached in %s", path, len(faces), cache_file.parent)
        parts = convex_decompose(verts, faces, settings)
    if use_cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".npz")
        os.close(fd)
        np.savez_compressed(tmp, parts=np.concatenate(parts), part_sizes=np.array([len(p) for p in parts]))
        os.replace(tmp, cache_file)
    return parts


def load_mesh_object(
    path: str | os.PathLike,
    scale: float | None = None,
    mass: float | None = None,
    *,
    settings: DecompositionSettings = IMPORT_SETTINGS,
    use_cache: bool = True,
) -> ObjectSpec:
    """A user mesh as an ObjectSpec.

    Args:
        path: an .obj or .stl file of one closed solid, in metres, centimetres or millimetres.
        scale: multiplies the file's coordinates; None: the unit (``FILE_UNITS``) that makes
            the object hand size, with a warning when it is not metres.
        mass: kg; default ``DEFAULT_DENSITY`` (150 kg/m^3) times the volume.
        settings: CoACD settings for the decomposition (the default takes ~20 s for a 30k-face
            mesh; once per file and scale, thanks to the cache).
        use_cache: read and write the decomposition cache (see ``cache_dir``).

    Returns:
        kind ``"mesh"``, category ``"user"``, named after the file stem, origin at the centre of
        mass, axes as in the file.

    Raises:
        ObjectError: missing or unreadable file, unsupported format, bad scale or mass, or a mesh
            that is not a closed hand-size solid (the message says how to fix it).
    """
    p = Path(path).expanduser()
    if p.suffix.lower() not in MESH_SUFFIXES:
        raise ObjectError(
            f"{p} is not a mesh dexndm reads: use {' or '.join(MESH_SUFFIXES)} (got {p.suffix!r})"
        )
    if not p.is_file():
        raise ObjectError(f"mesh file not found: {p}")
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise ObjectError(f"object scale must be a positive number, got {scale}")
    if mass is not None and not (math.isfinite(mass) and mass > 0):
        raise ObjectError(f"object mass must be a positive number of kg, got {mass}")
    mesh = _read(p)
    if scale is None:
        # CAD tools mostly export millimetres, Blender metres: take the one unit that gives a
        # hand-size object (validate_mesh rejects the file when none does)
        unit, scale = file_units(float(np.max(mesh.extents))) or ("metres", 1.0)
        if unit != "metres" and str(p) not in _UNIT_WARNED:  # once per file, not per env build
            _UNIT_WARNED.add(str(p))
            log.warning("%s: read in %s (%.4g m across)", p, unit, float(np.max(mesh.extents)) * scale)
    if scale != 1.0:
        mesh.apply_scale(scale)
    validate_mesh(mesh, str(p))
    mesh.apply_translation(-np.asarray(mesh.center_mass))
    parts = _cached_parts(p, mesh, scale, settings, use_cache)
    ext = np.asarray(mesh.extents, float)
    return ObjectSpec(
        name=p.stem,
        category="user",
        kind="mesh",
        size=tuple(ext / 2),
        mass=mass if mass is not None else DEFAULT_DENSITY * float(mesh.volume),
        convex_parts=tuple(parts),
        visual_mesh=(np.asarray(mesh.vertices), np.asarray(mesh.faces)),
        description=f"user mesh {p.name} x{scale:g}, {len(parts)} convex parts",
    )

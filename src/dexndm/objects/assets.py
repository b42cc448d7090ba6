"""Reading and writing the shipped complex-shape assets (``assets/complex/NN.npz``).

One compressed ``.npz`` per shape, all in metres in the object frame (origin = centre of mass):

- ``vertices`` float32 (V, 3), ``faces`` uint16/int32 (F, 3): the closed surface (visual mesh);
- ``parts`` float32 (sum P_i, 3) and ``part_sizes`` int32 (n,): the CoACD convex parts, stacked;
- ``family`` (str), ``variant`` (int), ``format`` (int): provenance.

float32 is 0.01 micrometre resolution at these sizes, and halves the files.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from .spec import DEFAULT_DENSITY, ObjectError, ObjectSpec

ASSET_DIR: Path = Path(__file__).parent / "assets" / "complex"
MASS_RANGE: tuple[float, float] = (0.01, 0.05)
"""kg. A complex shape weighs DEFAULT_DENSITY x volume clipped to the paper's randomization range
(the set's volumes span 25x, 17-410 cm^3, so density alone would give 2.5-61 g)."""
FORMAT = 1
MANIFEST = "manifest.json"


def asset_path(index: int, root: Path = ASSET_DIR) -> Path:
    return root / f"{index:02d}.npz"


def write_complex_asset(
    path: Path,
    vertices: np.ndarray,
    faces: np.ndarray,
    parts: list[np.ndarray],
    family: str,
    variant: int,
) -> None:
    """Write one shape's asset file (see module doc)."""
    face_dtype = np.uint16 if len(vertices) < 2**16 else np.int32
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        vertices=np.asarray(vertices, np.float32),
        faces=np.asarray(faces).astype(face_dtype),
        parts=np.concatenate(parts).astype(np.float32),
        part_sizes=np.array([len(p) for p in parts], np.int32),
        family=np.array(family),
        variant=np.array(variant),
        format=np.array(FORMAT),
    )


@cache
def load_complex_object(index: int, root: Path = ASSET_DIR) -> ObjectSpec:
    """The ObjectSpec of shipped complex shape ``index`` (cached: specs are immutable)."""
    path = asset_path(index, root)
    if not path.exists():
        raise ObjectError(
            f"complex shape asset {path} is missing; rebuild the assets with "
            "`python -m dexndm.objects.build_assets`"
        )
    with np.load(path) as z:
        verts = z["vertices"].astype(np.float64)
        faces = z["faces"].astype(np.int64)
        parts = np.split(z["parts"].astype(np.float64), np.cumsum(z["part_sizes"])[:-1])
        family, variant = str(z["family"]), int(z["variant"])
    from .meshing import mesh_volume

    ext = verts.max(0) - verts.min(0)
    return ObjectSpec(
        name=f"complex/{index:02d}",
        category="complex",
        kind="mesh",
        size=tuple(ext / 2),
        mass=float(np.clip(DEFAULT_DENSITY * mesh_volume(verts, faces), *MASS_RANGE)),
        convex_parts=tuple(parts),
        visual_mesh=(verts, faces),
        description=f"{family}, variant {variant}",
    )


def write_manifest(entries: list[dict], root: Path = ASSET_DIR) -> None:
    # One shape per line: readable, and a rebuild's diff shows which shapes changed.
    (root / MANIFEST).write_text("[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n")


def read_manifest(root: Path = ASSET_DIR) -> list[dict]:
    path = root / MANIFEST
    return json.loads(path.read_text()) if path.exists() else []

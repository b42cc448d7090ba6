"""Regenerate the shipped complex-shape assets: ``python -m dexndm.objects.build_assets``.

Meshes every complex shape (deterministic, ~0.1 s each) and convex-decomposes it with CoACD
(~5-15 s each on one core), then writes ``assets/complex/NN.npz`` and ``manifest.json``. Run it
after changing ``complex_shapes.py`` or ``decompose.py``; building a simulation never does.

Options:
    --only 3,7      rebuild only these indices (the manifest is rewritten for all shapes present)
    --out DIR       write somewhere else (default: the package's assets folder)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from .assets import ASSET_DIR, asset_path, load_complex_object, write_complex_asset, write_manifest
from .complex_shapes import TEST_FAMILIES, generate_shape, num_shapes
from .decompose import DEFAULT_SETTINGS, convex_decompose
from .meshing import is_closed_manifold, mesh_volume


def build_one(index: int, root: Path) -> None:
    t0 = time.perf_counter()
    shape = generate_shape(index)
    if not is_closed_manifold(shape.faces, len(shape.vertices)):
        raise RuntimeError(f"complex/{index:02d} ({shape.family}) did not mesh to a closed manifold")
    parts = convex_decompose(shape.vertices, shape.faces, DEFAULT_SETTINGS)
    write_complex_asset(
        asset_path(index, root), shape.vertices, shape.faces, parts, shape.family, shape.variant
    )
    ext = shape.vertices.max(0) - shape.vertices.min(0)
    print(
        f"complex/{index:02d} {shape.family:9s} v{shape.variant}  extent {np.round(ext * 1000, 1)} mm"
        f"  {len(shape.faces)} faces  {len(parts)} parts  {time.perf_counter() - t0:.1f} s",
        flush=True,
    )


def manifest_entries(root: Path) -> list[dict]:
    entries = []
    for i in range(num_shapes()):
        if not asset_path(i, root).exists():
            continue
        load_complex_object.cache_clear()
        obj = load_complex_object(i, root)
        family = obj.description.split(",")[0]
        verts, faces = obj.visual_mesh
        entries.append(
            {
                "name": obj.name,
                "family": family,
                "split": "test" if family in TEST_FAMILIES else "train",
                "extents_mm": [round(float(e) * 1000, 1) for e in obj.extents()],
                "aspect": round(obj.aspect_ratio(), 3),
                "volume_cm3": round(mesh_volume(verts, faces) * 1e6, 2),
                "mass_kg": round(obj.mass, 4),
                "faces": len(faces),
                "convex_parts": len(obj.convex_parts),
            }
        )
    load_complex_object.cache_clear()
    return entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="comma-separated shape indices to rebuild")
    parser.add_argument("--out", type=Path, default=ASSET_DIR, help="asset folder")
    args = parser.parse_args(argv)
    indices = [int(s) for s in args.only.split(",") if s.strip()] or list(range(num_shapes()))
    t0 = time.perf_counter()
    for i in indices:
        build_one(i, args.out)
    write_manifest(manifest_entries(args.out), args.out)
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"built {len(indices)} shapes in {time.perf_counter() - t0:.0f} s; assets {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

"""Episode files: uncompressed, deterministic npz (one ``<field>.npy`` member per field).

Uncompressed because episodes are small (~107 kB for 400 steps of the real-hand schema) and
loading speed matters more than disk; the zip's per-member CRC-32 is a second line of defence
behind the manifest's sha256.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

import numpy as np

READ_ERRORS = (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError)
"""What ``decode_npz`` raises for a damaged file."""


def episode_file_name(index: int) -> str:
    """Path of episode ``index`` relative to the store root, e.g. ``episodes/ep_000017.npz``."""
    return f"episodes/ep_{index:06d}.npz"


def encode_npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An uncompressed npz of ``arrays``, byte-for-byte deterministic (fixed zip timestamps).

    Written by hand rather than with ``np.savez`` so that any field name works (``np.savez``
    reserves ``file``) and equal content always has equal sha256.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def decode_npz(data: bytes) -> dict[str, np.ndarray]:
    """Inverse of ``encode_npz`` (pickled objects refused). Raises one of ``READ_ERRORS``."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {name: z[name] for name in z.files}

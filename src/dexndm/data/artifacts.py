"""JSON sidecars: what produced an artifact (command, config, versions, git commit, inputs).

Every file a stage writes (checkpoint, export, evaluation table) gets ``<file>.json`` beside it,
so that a user can start at any stage with their own files and still tell where each came from::

    ckpt = atomic_write_bytes(out / "dynamics.pt", buf)
    write_sidecar(ckpt, command="dexndm dynamics train ...", config=asdict(cfg),
                  inputs={"episodes": store_root, "init": pretrained_ckpt})
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib.metadata
import json
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dexndm.data.atomic import atomic_write_text, sha256_bytes, sha256_file

SIDECAR_SUFFIX = ".json"
_VERSIONED_PACKAGES = ("dexndm", "torch", "mujoco", "numpy", "rsl-rl-lib")


def utc_now() -> str:
    """Current UTC time, ISO-8601 to the second, e.g. ``2025-01-31T12:00:00+00:00``."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` hook for the values configs and metadata commonly hold."""
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable: {obj!r}")


def to_json_value(obj: Any) -> Any:
    """``obj`` as plain JSON values (tuples become lists, numpy scalars Python numbers)."""
    return json.loads(json.dumps(obj, default=json_default, allow_nan=False))


def package_versions() -> dict[str, str | None]:
    """Installed versions of Python and the packages that shape results (``None`` if absent).

    Read from package metadata, so this does not import torch or mujoco.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@functools.cache
def git_state() -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the git checkout dexndm runs from, else ``None``.

    ``None`` for an installed wheel, a repository without commits, or no ``git`` executable.
    """
    src = Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=src, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def provenance(command: str | Sequence[str] | None, config: Mapping[str, Any] | Any) -> dict[str, Any]:
    """What produced an artifact: command line, config, versions, git state, host, time.

    Args:
        command: the command line (a string, or argv as a list); ``None`` takes ``sys.argv``.
        config: a dict or a config dataclass; it must be JSON-serialisable (see ``json_default``).
    """
    if command is None:
        command = sys.argv
    if not isinstance(command, str):
        command = shlex.join(str(c) for c in command)
    return {
        "command": command,
        "config": to_json_value(config),
        "versions": package_versions(),
        "git": git_state(),
        "host": platform.node(),
        "created": utc_now(),
    }


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a directory's content.

    An episode store directory is identified by its ``meta.json`` and ``manifest.jsonl`` (the
    manifest holds every episode file's sha256), so hashing it costs two small reads. Any other
    directory hashes the sorted list of ``(relative path, file sha256)``.
    """
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise FileNotFoundError(f"input {path} does not exist")
    store_files = [path / "meta.json", path / "manifest.jsonl"]
    if all(p.is_file() for p in store_files):
        return sha256_bytes(b"".join(p.read_bytes() for p in store_files))
    listing = [
        f"{p.relative_to(path).as_posix()}\t{sha256_file(p)}\n"
        for p in sorted(path.rglob("*"))
        if p.is_file()
    ]
    return sha256_bytes("".join(listing).encode())


def sidecar_path(path: Path | str) -> Path:
    """``model.pt`` -> ``model.pt.json``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def write_sidecar(
    path: Path | str,
    *,
    command: str | Sequence[str] | None,
    config: Mapping[str, Any] | Any,
    inputs: Mapping[str, Path | str] | None = None,
) -> Path:
    """Write ``<path>.json`` atomically, describing how the artifact at ``path`` was made.

    Content: ``artifact`` (file name, and its sha256 and size if it exists), ``command``,
    ``config``, ``versions``, ``git``, ``host``, ``created``, and ``inputs``:
    ``{name: {"path": str, "sha256": hex}}`` (see ``sha256_path`` for directories).

    Returns:
        The sidecar's path.

    Raises:
        FileNotFoundError: an input does not exist (a sidecar must not claim an unhashed input).
    """
    path = Path(path)
    record: dict[str, Any] = {"artifact": {"file": path.name}}
    if path.is_file():
        record["artifact"].update(sha256=sha256_file(path), bytes=path.stat().st_size)
    record.update(provenance(command, config))
    record["inputs"] = {
        name: {"path": str(Path(p).resolve()), "sha256": sha256_path(Path(p))}
        for name, p in (inputs or {}).items()
    }
    out = sidecar_path(path)
    atomic_write_text(out, json.dumps(record, indent=2, default=json_default, allow_nan=False) + "\n")
    return out


def read_sidecar(path: Path | str) -> dict[str, Any]:
    """Read the sidecar of the artifact at ``path`` (or the sidecar file itself, if given)."""
    path = Path(path)
    side = (
        path if path.name.endswith(SIDECAR_SUFFIX) and not sidecar_path(path).exists() else sidecar_path(path)
    )
    try:
        return json.loads(side.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no sidecar {side}: the artifact was not written by dexndm, or its .json was not copied with it"
        ) from None

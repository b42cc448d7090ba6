"""dexndm: sim-to-real in-hand rotation for the LEAP hand (DexNDM)."""

import os as _os

# MuJoCo picks its OpenGL backend once, at its first import. Without a display, the default
# (GLFW) cannot make an offscreen context; OSMesa renders on the CPU (Debian libosmesa6).
if "MUJOCO_GL" not in _os.environ and not _os.environ.get("DISPLAY") and _os.name == "posix":
    _os.environ["MUJOCO_GL"] = "osmesa"

__version__ = "0.1.0"

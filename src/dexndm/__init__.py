"""dexndm: sim-to-real in-hand rotation for the LEAP hand (DexNDM)."""

__version__ = "0.1.0"

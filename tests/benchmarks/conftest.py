"""The benchmark scripts import each other as siblings (running one puts benchmarks/ on sys.path);
their tests do the same."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

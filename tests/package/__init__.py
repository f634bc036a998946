"""`scripts/dist.py` (not a package: `make package` runs it as a script), loaded once for the tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "firsttoken_dist", Path(__file__).resolve().parents[2] / "scripts" / "dist.py"
)
assert _spec is not None and _spec.loader is not None
dist = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dist)

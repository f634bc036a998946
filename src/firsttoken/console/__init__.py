"""The chat page and the dashboard, shipped as package data so that any app can serve them.

No framework is imported here: each adapter serves `STATIC_DIR` its own way.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

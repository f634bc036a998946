"""The public surface is exactly what we mean to export."""

from __future__ import annotations

import firsttoken


def test_exported_members() -> None:
    exported = set(firsttoken.__all__)
    members = {name for name in dir(firsttoken) if not name.startswith("_") or name == "__version__"}
    modules = {name for name in members if type(getattr(firsttoken, name)).__name__ == "module"}
    assert exported == members - modules
    for name in exported:
        assert getattr(firsttoken, name) is not None

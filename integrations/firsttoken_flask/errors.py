"""The adapter's own errors; importable without Flask, so the missing-Flask error can be raised."""

from __future__ import annotations

__all__ = ["FlaskNotInstalled"]


class FlaskNotInstalled(ImportError):
    """Flask is not installed; `pip install 'firsttoken[flask]'` installs it."""

    def __init__(self) -> None:
        super().__init__("firsttoken_flask needs Flask: pip install 'firsttoken[flask]'")

"""The one error this package raises when Starlette (or FastAPI) is not installed."""

from __future__ import annotations

__all__ = ["StarletteNotInstalled"]


class StarletteNotInstalled(ImportError):
    """Starlette or FastAPI is missing; the message says which extra installs it."""

    def __init__(self, framework: str = "starlette") -> None:
        super().__init__(
            f"firsttoken_starlette needs {framework}: pip install 'firsttoken[{framework}]'",
            name=framework,
        )

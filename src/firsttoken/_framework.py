"""The one error every adapter raises when its web framework is not installed."""

from __future__ import annotations

__all__ = ["FrameworkNotInstalled"]


class FrameworkNotInstalled(ImportError):
    """`firsttoken_<fw>` was imported without its framework; the message names the extra to install.

    An `ImportError`, so code that treats a missing optional dependency as optional keeps working.
    """

    def __init__(
        self, package: str, framework: str, *, extra: str | None = None, requirement: str | None = None
    ) -> None:
        # `requirement`: what to install when no extra of firsttoken brings it (the toolbar panel's
        # django-debug-toolbar); otherwise the extra, `firsttoken[<extra>]`.
        extra = extra or framework.lower()
        install = requirement or f"firsttoken[{extra}]"
        super().__init__(f"{package} needs {framework}: pip install '{install}'", name=extra)

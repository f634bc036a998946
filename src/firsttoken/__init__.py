"""firsttoken: fast Claude-powered web endpoints."""

from ._version import __version__

__all__ = ["__version__"]

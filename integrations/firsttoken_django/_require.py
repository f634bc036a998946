"""The one place that imports Django, so a missing install fails with a message that says what to do."""

from __future__ import annotations

__all__ = ["DjangoNotInstalled"]


class DjangoNotInstalled(ImportError):
    """firsttoken_django needs Django: `pip install 'firsttoken[django]'`."""


try:
    import django
except ImportError as exc:  # pragma: no cover - exercised only where Django is absent
    raise DjangoNotInstalled(
        "firsttoken_django needs Django 4.2 or newer: pip install 'firsttoken[django]'"
    ) from exc

if django.VERSION < (4, 2):  # pragma: no cover
    raise DjangoNotInstalled(
        f"firsttoken_django needs Django 4.2 or newer, not {django.get_version()}: "
        "pip install 'firsttoken[django]'"
    )

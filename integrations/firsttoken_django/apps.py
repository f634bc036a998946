from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

from .conf import SETTING

__all__ = ["FirstTokenConfig"]


class FirstTokenConfig(AppConfig):
    name = "firsttoken_django"
    label = "firsttoken"
    verbose_name = "firsttoken"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .state import reload_engine

        # A bad setting is kept, not raised, so `manage.py check` can report every problem with its
        # id and hint; the first use of the engine raises it.
        reload_engine()
        setting_changed.connect(_on_setting_changed, dispatch_uid="firsttoken_django.setting_changed")


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING, "FIRSTTOKEN"):
        from .state import reload_engine

        reload_engine()

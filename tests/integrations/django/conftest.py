"""Django for the in-process tests, configured only when this directory is collected.

The engine starts pointed at a closed port with the emulator off; tests point it at the
`anthropic_emulator` fixture with `override_settings`/`settings`, as users' tests would.
"""

from __future__ import annotations

import pytest

UNREACHABLE = "http://127.0.0.1:9"


def pytest_configure(config: pytest.Config) -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    from tests.integrations.django.project import settings as project

    values = {name: getattr(project, name) for name in dir(project) if name.isupper()}
    values["FIRSTTOKEN"] = {"BASE_URL": UNREACHABLE, "EMULATOR": "off", "MAX_RETRIES": 0}
    settings.configure(**values)
    django.setup()

"""The settings reference has one source: the README's table and the docs page both come from it."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from firsttoken import Profile, Settings, _reference

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_field_is_described_and_every_description_has_a_field():
    assert set(_reference.SETTINGS_FIELDS) == {f.name for f in dataclasses.fields(Settings)}
    assert set(_reference.PROFILE_FIELDS) == {f.name for f in dataclasses.fields(Profile)}


def test_a_new_field_without_a_description_fails_naming_it(monkeypatch):
    monkeypatch.setattr(_reference, "SETTINGS_FIELDS", {**_reference.SETTINGS_FIELDS, "gone": "x"})
    monkeypatch.delitem(_reference.SETTINGS_FIELDS, "timeout")
    with pytest.raises(LookupError, match=r"without a description.*'timeout'.*of no field: \['gone'\]"):
        _reference.settings_table()


def test_readme_table_is_current():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _script("readme_settings").rendered(readme) == readme, (
        "the README's settings table is stale: run `make readme`"
    )


def test_the_docs_page_gets_every_setting_and_profile_field_with_its_default():
    page = (ROOT / "docs" / "reference" / "settings.md").read_text(encoding="utf-8")
    rendered = _script("mkdocs_hooks").on_page_markdown(page)
    assert "<!-- settings-table -->" not in rendered and "<!-- profile-table -->" not in rendered
    for f in dataclasses.fields(Settings):
        assert f"| `{f.name}` |" in rendered
    for f in dataclasses.fields(Profile):
        assert f"| `{f.name}` |" in rendered
    assert "| `timeout` | `FIRSTTOKEN_TIMEOUT` | `float` | `120.0` |" in rendered
    assert "| `api_key` | `ANTHROPIC_API_KEY` |" in rendered
    assert "| `chat` | `claude-sonnet-5-5` | `1024` | no |" in rendered


def test_a_changed_default_shows_in_both(monkeypatch):
    # The dataclass's __init__ holds the defaults a `Settings()` gets: change it there.
    defaults = {**Settings.__init__.__kwdefaults__, "heartbeat_interval": 7.5}
    monkeypatch.setattr(Settings.__init__, "__kwdefaults__", defaults)
    row = "| `heartbeat_interval` | `FIRSTTOKEN_HEARTBEAT_INTERVAL` | `float` | `7.5` |"
    assert "| `heartbeat_interval` | `7.5` |" in _reference.readme_table()
    assert row in _reference.settings_table()

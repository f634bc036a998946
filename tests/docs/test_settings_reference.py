"""The settings reference has one source, each field's docstring: the README's table and the docs page
both come from it."""

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


def test_every_field_has_a_docstring():
    assert set(_reference.descriptions(Settings)) == {f.name for f in dataclasses.fields(Settings)}
    assert set(_reference.descriptions(Profile)) == {f.name for f in dataclasses.fields(Profile)}


@dataclasses.dataclass
class Undocumented:
    described: int = 1
    """What it does."""
    # A comment is not a description.
    forgotten: int = 2


def test_a_new_field_without_a_docstring_fails_naming_it():
    assert _reference.descriptions(Undocumented) == {"described": "What it does."}
    with pytest.raises(LookupError, match=r"Undocumented fields without a docstring.*\['forgotten'\]"):
        _reference._described(Undocumented)


def test_a_docstring_is_the_row_on_one_line():
    row = next(line for line in _reference.settings_table().splitlines() if line.startswith("| `emulator` |"))
    assert row.endswith(
        "`auto`: with no key and no base URL the embedded emulator answers, in development only "
        "(elsewhere the engine refuses to start, naming `ANTHROPIC_API_KEY`); `off`: always refuse; "
        "`always`: the emulator even with a key. |"
    )


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

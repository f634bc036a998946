"""The settings reference's tables, rendered from the `Settings` and `Profile` dataclasses.

Each field's description is its docstring (the string right below it in the class, the convention
Sphinx, mkdocstrings and pydantic's `use_attribute_docstrings` read), so it is written once, beside
the field. The docs site's page (`docs/reference/settings.md`, filled in by `scripts/mkdocs_hooks.py`
at build time) and the README's table (`make readme`) are both rendered here from those docstrings
and the fields' own names, types and defaults. A field without a docstring fails
`tests/docs/test_settings_reference.py`.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import re
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from ._profiles import DEFAULT_PROFILES, Profile
from ._settings import Settings

__all__ = [
    "default_profiles_table",
    "descriptions",
    "profile_table",
    "readme_table",
    "settings_table",
]

# Settings whose environment variable is not FIRSTTOKEN_<NAME> (that one works too).
_ENV_NAMES = {"api_key": "ANTHROPIC_API_KEY", "base_url": "ANTHROPIC_BASE_URL"}


def _default(f: dataclasses.Field[Any], instance: object) -> str:
    value = getattr(instance, f.name)
    if f.name == "profiles":
        return ", ".join(f"`{name}`" for name in value)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Mapping | tuple) and not value:
        return "empty"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"`{value:,}`"
    return f"`{value}`"


def _type(f: dataclasses.Field[Any]) -> str:
    text = str(f.type)
    # The Literal aliases read better as the values they allow; "or" rather than "|", which would
    # need escaping inside a table cell, differently in GitHub's Markdown and in MkDocs'.
    aliases = r"\b(EmulatorMode|Speed|RateLimitPolicy|CachingMode|CacheTtl|ThinkingDisplay)\b"
    return re.sub(aliases, "str", text).replace(" | ", " or ")


def _rows(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = list(row)
        if any("|" in cell for cell in cells):
            raise ValueError(f"a table cell with a pipe, which would split it: {cells}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def descriptions(cls: type) -> dict[str, str]:
    """Each documented field of the dataclass `cls`: its docstring, on one line."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = next(node for node in tree.body if isinstance(node, ast.ClassDef)).body
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _described(cls: type) -> list[tuple[dataclasses.Field[Any], str]]:
    docs = descriptions(cls)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in docs]
    if missing:
        raise LookupError(
            f"{cls.__name__} fields without a docstring (the string below the field): {missing}"
        )
    return [(f, docs[f.name]) for f in dataclasses.fields(cls)]


def settings_table() -> str:
    """Every `Settings` field: its environment variable, type, default and purpose."""
    defaults = Settings()
    rows = []
    for f, doc in _described(Settings):
        env = _ENV_NAMES.get(f.name, f"FIRSTTOKEN_{f.name.upper()}")
        rows.append((f"`{f.name}`", f"`{env}`", f"`{_type(f)}`", _default(f, defaults), doc))
    return _rows(("setting", "environment", "type", "default", "what it does"), rows)


def profile_table() -> str:
    """Every `Profile` field: its type, default and purpose (`model` and `max_tokens` have none)."""
    base = DEFAULT_PROFILES["chat"]
    rows = []
    for f, doc in _described(Profile):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = "per profile" if required else _default(f, base)
        rows.append((f"`{f.name}`", f"`{_type(f)}`", default, doc))
    return _rows(("profile field", "type", "default", "what it does"), rows)


def default_profiles_table() -> str:
    """The built-in profiles' models and output budgets."""
    rows = [
        (f"`{name}`", f"`{p.model}`", f"`{p.max_tokens}`", "yes" if p.concise else "no")
        for name, p in DEFAULT_PROFILES.items()
    ]
    return _rows(("profile", "model", "max_tokens", "concise"), rows)


def readme_table() -> str:
    """The README's shorter table: setting, default and purpose."""
    defaults = Settings()
    rows = [(f"`{f.name}`", _default(f, defaults), doc) for f, doc in _described(Settings)]
    return _rows(("setting", "default", "what it does"), rows)

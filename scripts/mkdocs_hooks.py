"""MkDocs hooks: the settings reference page's tables, rendered from the code at build time.

`docs/reference/settings.md` holds markers; each is replaced by a table from `firsttoken._reference`,
the same source as the README's table, so the page cannot drift from the fields.
"""

from __future__ import annotations

from typing import Any

from firsttoken import _reference

TABLES = {
    "<!-- settings-table -->": _reference.settings_table,
    "<!-- profile-table -->": _reference.profile_table,
    "<!-- default-profiles-table -->": _reference.default_profiles_table,
}


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    for marker, render in TABLES.items():
        markdown = markdown.replace(marker, render())
    return markdown

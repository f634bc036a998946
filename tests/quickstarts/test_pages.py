"""The quickstarts agree with each other: one page script, shown whole in Django's template."""

from __future__ import annotations

from .pages import blocks


def test_the_page_script_is_the_same_in_every_quickstart() -> None:
    (script,) = [
        b.source for b in blocks("starlette.md") if b.language == "js" and "function ask(" in b.source
    ]
    (template,) = [b.source for b in blocks("django.md") if b.title == "templates/chat.html"]
    assert script.strip() in template

"""A quickstart page's snippets as a reader pastes them: each block titled with a file
(```python title="mysite/views.py"```) goes into that file, and the page's curl commands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sybil import Document
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[2]
QUICKSTARTS = ROOT / "docs" / "quickstart"

_INFO = re.compile(r'(?P<language>[\w-]+)(?: title="(?P<title>[^"]+)")?[ \t]*$\n', re.MULTILINE)
# pymdownx.tabbed: `=== "FastAPI"`, its content indented below it.
_TAB = re.compile(r'^=== "(?P<tab>[^"]+)"[ \t]*$', re.MULTILINE)


@dataclass(frozen=True)
class Block:
    language: str
    title: str | None
    tab: str | None
    source: str
    # The page's text before the block: what it tells the reader to do with it.
    before: str


def blocks(page: str) -> list[Block]:
    path = QUICKSTARTS / page
    text = path.read_text()
    found = []
    for region in RawFencedCodeBlockLexer(info_pattern=_INFO)(Document(text, str(path))):
        indented = text[region.start] in " \t"
        tabs = [m["tab"] for m in _TAB.finditer(text, 0, region.start)]
        found.append(
            Block(
                language=region.lexemes["language"],
                title=region.lexemes["title"],
                tab=tabs[-1] if indented and tabs else None,
                source=str(region.lexemes["source"]),
                before=text[: region.start],
            )
        )
    return found


def apply(page: str, project: Path, *, tab: str | None = None) -> dict[str, Path]:
    """Paste the page's titled blocks (those of `tab` where the page has tabs) into `project`: a
    file the starter made gets the block at its end, as the page says; a new file is the block.
    Returns the files by title."""
    written: dict[str, Path] = {}
    for block in blocks(page):
        if block.title is None or (block.tab is not None and block.tab != tab):
            continue
        target = project / block.title
        if target.exists():
            last = block.before.rstrip().rsplit("\n\n", 1)[-1]
            assert f"At the end of `{block.title}`" in last or block.title in written, (
                f"{page} pastes into the existing {block.title} without saying where: {last!r}"
            )
            target.write_text(target.read_text().rstrip("\n") + "\n\n" + block.source)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.source)
        written[block.title] = target
    assert written, f"{page} has no block titled with a file"
    return written


def curl_commands(page: str) -> list[str]:
    """The page's `sh` blocks that POST with curl, in order (with any setup line of the same block)."""
    return [b.source for b in blocks(page) if b.language == "sh" and "curl -N" in b.source]

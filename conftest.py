"""Every Python snippet of the README and of docs/ runs as a test (Sybil), against the embedded emulator.

Sybil rather than pytest-examples: snippets on one page share a namespace (a page builds an app in
one block and uses it in the next, as a reader does), pages can carry invisible check blocks that
drive the app they show, and a snippet that is not meant to run says so in the page itself
(`<!-- skip: next -->`), where a reviewer sees it. Each page runs as a developer with no API key:
`FIRSTTOKEN_DEVELOPMENT=1`, no `ANTHROPIC_*` variable, the emulator at time-scale 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Region, Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

from tests.docs.snippets import Docs, Environment, close_engines


class _TitledCodeBlockParser(CodeBlockParser):
    """A fence's language is its first word: ```python title="mysite/views.py"``` runs like
    ```python```. The title is the file the reader pastes the block into (Material shows it above
    the block), and what tests/quickstarts/ builds each quickstart's project from."""

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.lexers(document):
            words = region.lexemes["arguments"].split(maxsplit=1)
            if words and words[0] == self.language:
                region.parsed = region.lexemes["source"]
                region.evaluator = self._evaluator or self.evaluate
                yield region


class _PythonParser(PythonCodeBlockParser):
    codeblock_parser_class = _TitledCodeBlockParser


def _setup(namespace: dict[str, Any]) -> None:
    environment = Environment()
    environment.enter()
    namespace["_environment"] = environment
    namespace["docs"] = Docs()
    # As a script the reader runs: `Flask(__name__)` finds its root path from it.
    namespace["__name__"] = "__main__"


def _teardown(namespace: dict[str, Any]) -> None:
    try:
        close_engines(namespace)
    finally:
        namespace["docs"].close()
        namespace["_environment"].exit()


ROOT = Path(__file__).resolve().parent

_collect = Sybil(
    parsers=[_PythonParser(), SkipParser()],
    patterns=["*.md"],
    setup=_setup,
    teardown=_teardown,
).pytest()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # The README and docs/ only: Sybil's patterns match a path from its end, so `docs/*.md` alone
    # would also take any other folder named docs.
    try:
        where = file_path.relative_to(ROOT)
    except ValueError:
        return None
    if where == Path("README.md") or where.parts[0] == "docs":
        return _collect(file_path, parent)
    return None

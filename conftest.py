"""Every Python snippet of the README and of docs/ runs as a test (Sybil), against the embedded emulator.

Sybil rather than pytest-examples: snippets on one page share a namespace (a page builds an app in
one block and uses it in the next, as a reader does), pages can carry invisible check blocks that
drive the app they show, and a snippet that is not meant to run says so in the page itself
(`<!-- skip: next -->`), where a reviewer sees it. Each page runs as a developer with no API key:
`FIRSTTOKEN_DEVELOPMENT=1`, no `ANTHROPIC_*` variable, the emulator at time-scale 0.
"""

from __future__ import annotations

from typing import Any

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

from tests.docs.snippets import Docs, Environment, close_engines


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
        namespace["_environment"].exit()


pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser(), SkipParser()],
    patterns=["README.md", "docs/*.md", "docs/*/*.md"],
    setup=_setup,
    teardown=_teardown,
).pytest()

"""`tests/README.md`'s map from each module to its tests stays true: every module and adapter has a
row, every file a row names exists, and every test file is in a row."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PATH = re.compile(r"`([^`]+)`")


def rows() -> dict[str, list[str]]:
    """The tables' rows: the first cell's path, and the paths the second cell names."""
    found = {}
    for line in (TESTS / "README.md").read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if len(cells) == 4 and PATH.search(cells[2]):
            found[cells[1].strip().strip("`")] = PATH.findall(cells[2])
    return found


def modules() -> set[str]:
    """Each module and package of `src/firsttoken/` (its top level) and each adapter package."""
    package = ROOT / "src" / "firsttoken"
    found = {f"src/firsttoken/{p.name}" for p in package.glob("*.py")}
    found |= {f"src/firsttoken/{p.parent.name}/" for p in package.glob("*/__init__.py")}
    found |= {f"integrations/{p.parent.name}/" for p in (ROOT / "integrations").glob("*/__init__.py")}
    return found


def test_every_module_and_adapter_has_a_row():
    mapped = {name for name in rows() if name.startswith(("src/", "integrations/"))}
    assert sorted(modules() - mapped) == [], "add a row for each to tests/README.md"
    assert sorted(mapped - modules()) == [], "rows of modules that no longer exist in tests/README.md"


def test_every_file_named_exists():
    named = {path for paths in rows().values() for path in paths}
    assert sorted(path for path in named if not (TESTS / path).exists()) == []


def test_every_test_file_is_in_a_row():
    named = [TESTS / path for paths in rows().values() for path in paths]
    unmapped = [
        str(test.relative_to(TESTS))
        for test in sorted(TESTS.rglob("test_*.py"))
        if "node_modules" not in test.parts
        and not any(test == path or path in test.parents for path in named)
    ]
    assert unmapped == [], "name each in a row of tests/README.md"

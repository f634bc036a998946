"""The sync request loops are generated from the async ones; a hand edit or a stale twin fails here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_sync_twin_is_generated_from_its_current_async_source() -> None:
    unasync = _unasync()
    for folder in unasync.SOURCES:
        for source in folder.glob("*.py"):
            twin = folder.parent / "_sync" / source.name
            assert twin.read_text() == unasync.generate(source), f"{twin} is stale: run `make unasync`"


def test_the_rules_turn_async_code_into_its_sync_twin() -> None:
    line = "    async def aclose(self) -> None:  # await self._cm.__aexit__(None, None, None)"
    assert _unasync().unasync_line(line) == (
        "    def close(self) -> None:  # self._cm.__exit__(None, None, None)"
    )
    assert _unasync().unasync_line("async for chunk in response.aiter_bytes():") == (
        "for chunk in response.iter_bytes():"
    )
    # Whole words only: a name that merely contains a rule's word is left alone.
    assert _unasync().unasync_line("self.acreated = awaited") == "self.acreated = awaited"


def test_check_mode_fails_on_a_stale_twin(tmp_path: Path, capsys: object) -> None:
    unasync = _unasync()
    source_dir = tmp_path / "_async"
    source_dir.mkdir()
    (source_dir / "calls.py").write_text("async def acreate() -> None:\n    await x()\n")
    unasync.SOURCES[:] = [source_dir]
    assert unasync.main(["--check"]) == 1
    assert unasync.main([]) == 0
    assert (tmp_path / "_sync" / "calls.py").read_text().endswith("def create() -> None:\n    x()\n")
    assert unasync.main(["--check"]) == 0

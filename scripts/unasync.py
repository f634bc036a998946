"""Generate the sync twins of firsttoken's async sources, or check that they are current.

The async code is the only source (as httpcore does it): each file under an `_async/` folder has
a generated twin under the `_sync/` folder beside it, made by the token rules below. Run with
`--check` (as `make test` does) to fail when a twin is stale instead of writing it.

    python scripts/unasync.py [--check]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "src" / "firsttoken" / "_upstream" / "_async",
    ROOT / "src" / "firsttoken" / "_caching" / "_async",
    ROOT / "src" / "firsttoken" / "_relay" / "_async",
    ROOT / "src" / "firsttoken" / "_relay" / "resume" / "_async",
    ROOT / "src" / "firsttoken" / "_agent" / "_async",
]

# Whole-word substitutions, applied in order to every line.
SUBS = [
    ("AsyncIterator", "Iterator"),
    ("AsyncIterable", "Iterable"),
    ("AbstractAsyncContextManager", "AbstractContextManager"),
    ("AsyncAnthropic", "Anthropic"),
    ("AsyncAPIResponse", "APIResponse"),
    ("AsyncTextStream", "TextStream"),
    ("AsyncAgentStream", "AgentStream"),
    ("AsyncToolRunner", "ToolRunner"),
    ("AsyncRace", "Race"),
    ("AsyncAhead", "SyncAhead"),
    ("AsyncFollow", "SyncFollow"),
    ("AsyncResuming", "SyncResuming"),
    ("async def", "def"),
    ("async with", "with"),
    ("async for", "for"),
    ("await ", ""),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("__aiter__", "__iter__"),
    ("aiter_bytes", "iter_bytes"),
    ("aclose", "close"),
    ("acreate", "create"),
    ("astream", "stream"),
    ("awarm", "warm"),
    ("aopen", "open"),
    ("abody", "body"),
    ("abeating", "beating"),
    ("aproduce", "produce"),
    ("_araw", "_raw"),
    ("_aclose_upstream", "_close_upstream"),
    ("AsyncRelay", "SyncRelay"),
    ("_AsyncStream", "_SyncStream"),
    ("_async", "_sync"),
    ("aconfirm_now", "confirm_now"),
    ("acoalesce", "coalesce"),
    ("_aitems", "_items"),
    ("aopen_connection", "open_connection"),
    ("awarm_for", "warm_for"),
    ("atexts", "texts"),
    ("afollow", "follow"),
    ("_afollow", "_follow"),
    ("_alost", "_lost"),
    ("_afind", "_find"),
    ("afind", "find"),
    ("achat", "chat"),
    ("aread", "read"),
    ("aattend", "attend"),
    ("aappend", "append"),
    ("astop", "stop"),
    ("astop_answer", "stop_answer"),
    ("aclaim", "claim"),
    ("arelease", "release"),
    ("atake", "take"),
    ("aload_head", "load_head"),
    ("aload_messages", "load_messages"),
    ("_aload_history", "_load_history"),
    ("aheld_messages", "held_messages"),
    ("asave", "save"),
    ("_aload_chat", "_load_chat"),
    ("_asave_chat", "_save_chat"),
    ("akeep", "keep"),
    ("aswap", "swap"),
    ("_clients.async_", "_clients.sync"),
    ("asyncio.sleep", "time.sleep"),
    ("import asyncio", "import time"),
    ("_async/calls.py", "_sync/calls.py"),
]
# Regular expressions for what a word swap cannot say: an awaitable result is the result itself.
PATTERNS = [(re.compile(r"\bAwaitable\[(\w+)\]"), r"\1")]
COMPILED = [(re.compile(r"(^|\b)" + re.escape(a) + (r"\b" if a[-1].isalnum() else "")), b) for a, b in SUBS]
HEADER = "# Generated from {source} by scripts/unasync.py: edit that file, then `make unasync`.\n"


def unasync_line(line: str) -> str:
    for pattern, replacement in COMPILED:
        line = pattern.sub(lambda m, r=replacement: m.group(1) + r, line)
    for regex, template in PATTERNS:
        line = regex.sub(template, line)
    return line


def _ruff() -> str:
    beside = Path(sys.executable).with_name("ruff")
    found = str(beside) if beside.exists() else shutil.which("ruff")
    if found is None:
        raise SystemExit("unasync needs ruff (make install)")
    return found


def _tidy(text: str, target: Path) -> str:
    """Sort the imports and drop those the sync code no longer uses, then format: as ruff would."""
    ruff, name = _ruff(), str(target)
    fixed = subprocess.run(
        [ruff, "check", "--fix-only", "--select", "I,F401", "--stdin-filename", name, "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return subprocess.run(
        [ruff, "format", "--stdin-filename", name, "-"],
        input=fixed,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def generate(source: Path) -> str:
    rel = f"{source.parent.name}/{source.name}"
    lines = source.read_text().splitlines(keepends=True)
    target = source.parent.parent / "_sync" / source.name
    return _tidy(HEADER.format(source=rel) + "".join(unasync_line(line) for line in lines), target)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for folder in SOURCES:
        target_dir = folder.parent / "_sync"
        for source in sorted(folder.glob("*.py")):
            target = target_dir / source.name
            text = generate(source)
            if target.exists() and target.read_text() == text:
                continue
            if check:
                stale.append(os.path.relpath(target, ROOT))
            else:
                target.parent.mkdir(exist_ok=True)
                target.write_text(text)
                print(f"wrote {os.path.relpath(target, ROOT)}")
    if stale:
        print("stale generated code (run `make unasync`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

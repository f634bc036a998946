"""The core runs where no web framework is installed (the import-linter contract checks the graph)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_core_imports_with_every_framework_missing() -> None:
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys

        class NoFrameworks:
            blocked = ("django", "flask", "starlette", "fastapi", "werkzeug")

            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in self.blocked:
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoFrameworks())
        import firsttoken

        for info in pkgutil.walk_packages(firsttoken.__path__, "firsttoken."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in NoFrameworks.blocked)
        assert not loaded, loaded
        print("ok", len([m for m in sys.modules if m.startswith("firsttoken")]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")

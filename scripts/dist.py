"""Build the sdist and the wheel from the tracked files, and check them (`make package`).

The build runs in a copy of the files git tracks (as they are in the working tree, edits
included): hatchling leaves out what `.gitignore` ignores but ships any other file it finds under
an included folder, so a scratch file or an untracked tree under `src/` or `integrations/` would
otherwise reach the package index. The build backend is the locked one (the dev group's hatchling,
as a build constraint), so the artifacts do not change with a new release of it.

The checks: `twine check --strict` on both (the metadata and the README as the index renders them),
check-wheel-contents on the wheel (no bytecode, duplicates aside, nothing outside our four
top-level packages), and each artifact's file list equal to what we mean to ship, computed here
from `git ls-files` and the lists below.

    python scripts/dist.py [--out dist] [--root .]

Prints the two paths; exits non-zero naming what is wrong. tests/package/ imports `build()`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the wheel holds: these packages (source folder -> import name), whole, and nothing else.
PACKAGES = {
    "src/firsttoken": "firsttoken",
    "integrations/firsttoken_django": "firsttoken_django",
    "integrations/firsttoken_flask": "firsttoken_flask",
    "integrations/firsttoken_starlette": "firsttoken_starlette",
}
# What the sdist holds besides the packages' sources: what a build from it and a reader need.
# hatchling adds `.gitignore` (it reads it to know what to leave out) and writes PKG-INFO.
SDIST_FILES = ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", ".gitignore", "PKG-INFO")
WHEEL_METADATA = ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "licenses/LICENSE")
# The `_sync` packages' `__init__.py` files are generated alike (scripts/unasync.py), so W002
# ("duplicate files") is expected; every other check stands.
WHEEL_CHECKS_IGNORED = "W002"


class DistError(Exception):
    """An artifact is not what we mean to ship."""


def uv_path(root: Path = ROOT) -> Path:
    """The Makefile's uv (`.tools/uv-<UV_VERSION>/bin/uv`), or `$UV`."""
    if "UV" in os.environ:
        return Path(os.environ["UV"]).resolve()
    pinned = re.search(r"^UV_VERSION := (\S+)$", (root / "Makefile").read_text(), re.MULTILINE)
    if pinned is None:
        raise DistError("Makefile: no `UV_VERSION := ...` line")
    uv = root / ".tools" / f"uv-{pinned.group(1)}" / "bin" / "uv"
    if not uv.exists():
        raise DistError(f"{uv} is missing: run `make install`")
    return uv


def tracked(root: Path) -> list[str]:
    """The files git tracks under `root` that exist in the working tree, as relative POSIX paths."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached"], cwd=root, check=True, capture_output=True
    ).stdout
    return sorted(name for name in listed.decode().split("\0") if name and (root / name).is_file())


def copy_tracked(root: Path, dest: Path) -> list[str]:
    """Copy the files git tracks under `root` into `dest`; their relative paths."""
    names = tracked(root)
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return names


def version(root: Path) -> str:
    """The version in `src/firsttoken/_version.py`, which hatchling reads too."""
    text = (root / "src/firsttoken/_version.py").read_text()
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if found is None:
        raise DistError('src/firsttoken/_version.py: no `__version__ = "..."` line')
    return found.group(1)


def build_constraints(uv: Path, root: Path, dest: Path) -> Path:
    """Write the locked dev group, which pins hatchling and what it imports, to `dest`."""
    subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--only-group", "dev",
         "--quiet", "--output-file", dest],
        cwd=root, check=True,
    )  # fmt: skip
    return dest


def build(out: Path, root: Path = ROOT, uv: Path | None = None) -> tuple[Path, Path]:
    """Build the sdist and (from it, as pip would) the wheel into `out`, check both, return them."""
    uv = uv or uv_path(root)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="firsttoken-dist-") as tmp:
        tree = Path(tmp) / "tree"
        names = copy_tracked(root, tree)
        constraints = build_constraints(uv, root, Path(tmp) / "build-constraints.txt")
        subprocess.run(
            [uv, "build", "--quiet", "--clear", "--no-create-gitignore", "--build-constraints",
             constraints, "--out-dir", out, tree],
            check=True,
        )  # fmt: skip
    release = version(root)
    sdist, wheel = out / f"firsttoken-{release}.tar.gz", out / f"firsttoken-{release}-py3-none-any.whl"
    check(sdist, wheel, names, release)
    return sdist, wheel


def _differences(what: str, got: Iterable[str], meant: Iterable[str]) -> list[str]:
    got, meant = set(got), set(meant)
    return [f"{what} ships {name}, which it should not" for name in sorted(got - meant)] + [
        f"{what} lacks {name}" for name in sorted(meant - got)
    ]


def check(sdist: Path, wheel: Path, names: list[str], version: str) -> None:
    """Raise `DistError` unless both artifacts pass twine and hold exactly what we mean to ship."""
    bin_dir = Path(sys.executable).parent
    commands: list[list[str | Path]] = [
        [bin_dir / "twine", "check", "--strict", sdist, wheel],
        [bin_dir / "check-wheel-contents", "--no-config", "--ignore", WHEEL_CHECKS_IGNORED,
         "--toplevel", ",".join(PACKAGES.values()), wheel],
    ]  # fmt: skip
    for command in commands:
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode:
            raise DistError(f"{Path(command[0]).name} failed:\n{run.stdout}{run.stderr}")

    sources = [name for name in names if name.startswith(tuple(f"{folder}/" for folder in PACKAGES))]
    in_wheel = [
        PACKAGES[folder] + name[len(folder) :]
        for name in sources
        for folder in PACKAGES
        if name.startswith(f"{folder}/")
    ]
    dist_info = f"firsttoken-{version}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = [info.filename for info in archive.infolist() if not info.is_dir()]
    problems = _differences(
        wheel.name, wheel_names, in_wheel + [f"{dist_info}/{name}" for name in WHEEL_METADATA]
    )
    with tarfile.open(sdist) as archive:
        sdist_names = [member.name for member in archive.getmembers() if member.isfile()]
    prefix = f"firsttoken-{version}/"
    problems += _differences(sdist.name, sdist_names, [prefix + name for name in [*sources, *SDIST_FILES]])
    if problems:
        raise DistError("\n".join(problems))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    try:
        for artifact in build(args.out.resolve(), args.root.resolve()):
            print(artifact)
    except (DistError, subprocess.CalledProcessError) as error:
        print(f"dist.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

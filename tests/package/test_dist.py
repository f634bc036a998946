"""The sdist and the wheel hold what we mean to ship: the packages, the LICENSE, the package page,
no tests, and no file that git does not track, however it came to be under an included folder."""

from __future__ import annotations

import re
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.package import dist

pytestmark = pytest.mark.package

REPOSITORY = "https://github.com/firsttoken/firsttoken"
# Files a developer leaves about: under the included folders, so a plain `uv build` would ship them.
UNTRACKED = ("src/firsttoken/scratch/draft.py", "src/firsttoken/notes.txt", "integrations/scratch/try.py")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return dist.build(tmp_path_factory.mktemp("dist"))


def _sdist_names(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        return [member.name.split("/", 1)[1] for member in archive.getmembers() if member.isfile()]


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_license_in_both(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    assert "LICENSE" in _sdist_names(sdist)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in _wheel_names(wheel))
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        headers = archive.read(metadata).decode()
    assert "License-Expression: MIT" in headers and "License-File: LICENSE" in headers
    assert "Project-URL: Source, https://github.com/firsttoken/firsttoken" in headers


def test_sdist_has_no_tests_and_the_package_page(built: tuple[Path, Path]) -> None:
    names = _sdist_names(built[0])
    assert not [name for name in names if "tests/" in name or name.startswith(("docs/", "example_projects/"))]
    assert {"README.md", "CHANGELOG.md", "pyproject.toml"} <= set(names)


def test_wheel_holds_the_four_packages_and_their_data(built: tuple[Path, Path]) -> None:
    names = _wheel_names(built[1])
    assert {name.split("/", 1)[0] for name in names if ".dist-info/" not in name} == set(
        dist.PACKAGES.values()
    )
    assert "firsttoken_django/templates/firsttoken_django/panel.html" in names
    assert {f"{package}/py.typed" for package in dist.PACKAGES.values()} <= set(names)


def test_untracked_files_never_ship(tmp_path: Path) -> None:
    # A repository of today's tracked files, with untracked ones added under the included folders.
    tree = tmp_path / "tree"
    dist.copy_tracked(dist.ROOT, tree)
    subprocess.run(["git", "init", "--quiet", tree], check=True)
    subprocess.run(["git", "add", "--all"], cwd=tree, check=True)
    for name in UNTRACKED:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("x = 1\n")
    uv = dist.uv_path()

    sdist, wheel = dist.build(tmp_path / "dist", root=tree, uv=uv)
    shipped = [*_sdist_names(sdist), *_wheel_names(wheel)]
    assert not [name for name in shipped if "scratch" in name or "notes.txt" in name], shipped

    # What hatchling alone does with the same tree, and what the check says about it.
    constraints = dist.build_constraints(uv, tree, tmp_path / "constraints.txt")
    plain = [
        uv,
        "build",
        "--quiet",
        "--build-constraints",
        constraints,
        "--out-dir",
        tmp_path / "plain",
        tree,
    ]
    subprocess.run(plain, check=True)
    plain_sdist, plain_wheel = sorted(
        (tmp_path / "plain").glob("firsttoken-*.*"), key=lambda p: p.suffix == ".whl"
    )
    assert "integrations/scratch/try.py" in _sdist_names(plain_sdist)
    with pytest.raises(dist.DistError) as refused:
        dist.check(plain_sdist, plain_wheel, dist.tracked(tree), dist.version(tree))
    for name in ("src/firsttoken/scratch/draft.py", "integrations/scratch/try.py", "firsttoken/notes.txt"):
        assert name in str(refused.value)


def test_readme_links_work_on_the_package_index() -> None:
    """The README is the package page, where a relative link leads nowhere: each one is absolute,
    and one into the repository names a file or folder that exists."""
    readme = (dist.ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert links
    assert [link for link in links if not link.startswith("https://")] == []
    for link in links:
        for prefix in (f"{REPOSITORY}/blob/main/", f"{REPOSITORY}/tree/main/"):
            if link.startswith(prefix):
                assert (dist.ROOT / link.removeprefix(prefix).split("#")[0]).exists(), link

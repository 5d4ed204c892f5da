"""The installed package describes itself consistently (one version, its licences),
and `make` rebuilds it whenever a file it is built from changes."""
import importlib.metadata
import pathlib
import shutil
import subprocess
import tomllib

import pytest

import nnbook
from nnbook import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_version_is_the_same_everywhere(capsys):
    # pip's metadata is read from __version__ at build time, so they can only differ
    # if the installed copy is stale
    assert importlib.metadata.version("nnbook") == nnbook.__version__
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.split() == ["nnbook", nnbook.__version__]


def test_pyproject_does_not_repeat_the_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]


def test_licences_ship_with_the_package():
    shipped = {path.name for path in importlib.metadata.files("nnbook")}
    assert {"LICENSE", "LICENSE.OpenBLAS.txt"} <= shipped
    licence = next(p for p in importlib.metadata.files("nnbook") if p.name == "LICENSE")
    text = licence.read_text()
    assert "BSD 3-Clause" in text and "the nnbook developers" in text


def test_make_rebuilds_when_any_source_file_changes():
    # `make test` reinstalls .venv when a prerequisite is newer; a file missing
    # from SOURCES (as python/nnbook/keras/ once was) means testing a stale install
    if shutil.which("make") is None or not (ROOT / "Makefile").exists():
        pytest.skip("needs make and the source checkout")
    database = subprocess.run(["make", "-p", "-n", "clean"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout
    sources = next(line for line in database.splitlines() if line.startswith("SOURCES := "))
    listed = set(sources.split()[2:])
    built_from = {str(path.relative_to(ROOT)) for folder in ("python/nnbook", "src")
                  for path in (ROOT / folder).rglob("*")
                  if path.suffix in {".py", ".pyx", ".pxd", ".c", ".h"}}
    assert len(built_from) > 30
    required = built_from | {"pyproject.toml", "CMakeLists.txt", "README.md", "LICENSE"}
    assert required - listed == set()

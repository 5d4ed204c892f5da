"""The installed package describes itself consistently: one version, its licences."""
import importlib.metadata
import pathlib
import tomllib

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

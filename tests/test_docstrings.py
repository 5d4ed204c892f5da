"""Every docstring Example in the installed package runs and prints what it shows.

Each module's examples run with doctest in a fresh temporary working folder
(so an example that writes a file leaves nothing behind) and with matplotlib's
file-only backend. An example that truly cannot run here (it needs the
Fashion-MNIST files, or shows output that changes from run to run) carries
``# doctest: +SKIP``.
"""
import doctest
import importlib
import pkgutil

import pytest

import nnbook

# python -m nnbook's entry point: importing it runs nothing, it has no docstring examples
NOT_DOCUMENTED = {"nnbook.__main__"}
MODULES = sorted({nnbook.__name__} | {info.name for info in
                                       pkgutil.walk_packages(nnbook.__path__, "nnbook.")}
                 - NOT_DOCUMENTED)
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def module_doctests(name):
    """The doctests of module `name` that hold at least one example."""
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    report = []
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in module_doctests(name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_the_examples_are_found():
    # guards the harness: a finder that found nothing would make the test above pass vacuously
    counts = {name: sum(len(t.examples) for t in module_doctests(name)) for name in MODULES}
    assert counts["nnbook.book"] >= 10 and counts["nnbook._nncore"] >= 1
    assert sum(counts.values()) >= 150


def test_a_wrong_example_is_caught(tmp_path, monkeypatch):
    # the harness itself: an example whose output is wrong must fail
    wrong = doctest.DocTestParser().get_doctest(">>> 1 + 1\n3\n", {}, "wrong", None, 0)
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    runner.run(wrong, out=lambda text: None)
    assert runner.summarize(verbose=False).failed == 1

"""nbval grades the notebooks: every solution passes; every unsolved exercise fails in its check cells only.

A check that cannot fail is caught here: the derived exercise notebook (stubs
that raise NotImplementedError) must fail each of its check cells with
GradingFailed, and no other cell. nbval runs once per folder, both folders at
once, in subprocesses (as ``make test`` and ``make grade`` run it).
"""

import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
NBVAL = ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=60",
         "--nbval-sanitize-with", "notebooks/sanitize.cfg", "-p", "no:cacheprovider", "-q"]


def notebooks(folder):
    return sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))


def check_cells(path):
    """Indexes (among code cells, as nbval counts them) of the cells that call grading.check."""
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    return {i for i, c in enumerate(code) if "grading.check(" in c.source}


@pytest.fixture(scope="module")
def nbval_runs(tmp_path_factory):
    """Run nbval over solutions/ and exercises/ concurrently; {folder: (returncode, output, cases)}."""
    tmp = tmp_path_factory.mktemp("nbval")
    procs = {}
    for folder in ("solutions", "exercises"):
        xml = tmp / f"{folder}.xml"
        procs[folder] = (subprocess.Popen(
            [sys.executable, "-m", "pytest", folder, *NBVAL, f"--junitxml={xml}"], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), xml)
    runs = {}
    for folder, (proc, xml) in procs.items():
        out, _ = proc.communicate(timeout=300)
        cases = {}
        for case in ET.parse(xml).iter("testcase"):
            notebook = case.get("classname").split(".", 1)[1]
            cell = int(case.get("name").split()[-1])
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            cases[(notebook, cell)] = None if failure is None else (failure.text or "")
        runs[folder] = (proc.returncode, out, cases)
    return runs


def test_there_are_exercise_notebooks_with_check_cells():
    assert notebooks("solutions"), "no solution notebooks"
    assert [p.name for p in notebooks("solutions")] == [p.name for p in notebooks("exercises")]
    for path in notebooks("exercises"):
        assert check_cells(path), f"{path.name} has no check cell"


def test_every_solution_notebook_passes_nbval(nbval_runs):
    code, out, cases = nbval_runs["solutions"]
    assert code == 0, out
    ran = {nb for nb, _ in cases}
    assert ran == {p.name for p in notebooks("solutions")}
    assert all(failure is None for failure in cases.values())


def test_every_unsolved_exercise_notebook_fails_in_its_check_cells_only(nbval_runs):
    code, out, cases = nbval_runs["exercises"]
    assert code == 1, out
    for path in notebooks("exercises"):
        failed = {cell: text for (nb, cell), text in cases.items() if nb == path.name and text is not None}
        assert set(failed) == check_cells(path), (
            f"{path.name}: the failing cells {sorted(failed)} should be exactly the check cells "
            f"{sorted(check_cells(path))}:\n{out[-3000:]}")
        for cell, text in failed.items():
            assert "Cell execution caused an exception" in text, text
            assert "GradingFailed" in text and "0/" in text, f"{path.name} cell {cell}: {text[-1500:]}"

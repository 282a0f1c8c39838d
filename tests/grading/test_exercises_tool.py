"""tools/exercises.py: deriving exercise notebooks from solutions, its error cases, and the sync check."""

import importlib.util
import pathlib
import subprocess
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("course_exercises_tool", ROOT / "tools" / "exercises.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)
DeriveError = tool.DeriveError


def notebook(*cells):
    """cells: ("code"|"md", source[, outputs])"""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}, "papermill": {"x": 1}, "widgets": {}}
    for i, (kind, source, *outputs) in enumerate(cells):
        cell = (nbformat.v4.new_code_cell(source) if kind == "code"
                else nbformat.v4.new_markdown_cell(source))
        cell["id"] = f"c{i:03d}"
        if outputs:
            cell.outputs = outputs[0]
            cell.execution_count = 7
        nb.cells.append(cell)
    return nb


def stdout(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


SOLVED = '''class Stack(gs.GenServer):
    def init(self, items):
        # BEGIN SOLUTION hint="return ('ok', state)"
        return ("ok", list(items))
        # END SOLUTION

    def handle_cast(self, request, state):
        match request:
            case ("push", item):
                # BEGIN SOLUTION hint='the item goes on top: "[item, *state]"'
                new = [item, *state]
                return ("noreply", new)
                # END SOLUTION'''


def test_code_regions_become_stubs_at_the_begin_lines_indentation():
    ex = tool.derive(notebook(("code", SOLVED)), "solutions/99_x.ipynb")
    assert ex.cells[0].source == '''class Stack(gs.GenServer):
    def init(self, items):
        raise NotImplementedError("return ('ok', state)")

    def handle_cast(self, request, state):
        match request:
            case ("push", item):
                raise NotImplementedError("the item goes on top: \\"[item, *state]\\"")'''
    compile(ex.cells[0].source, "<derived>", "exec")


def test_markdown_answers_become_your_answer_here():
    md = "Why a cast?\n\n<!-- BEGIN SOLUTION -->\nBecause the client\nneed not wait.\n<!-- END SOLUTION -->\n\nEnd."
    ex = tool.derive(notebook(("md", md)))
    assert ex.cells[0].source == "Why a cast?\n\n*Your answer here.*\n\nEnd."


def test_check_cells_keep_their_outputs_everything_else_is_stripped():
    sol = notebook(("code", "print('setup')", [stdout("setup\n")]),
                   ("code", "# NBVAL_CHECK_OUTPUT\ngs.grading.check('99.1', globals())",
                    [stdout("Exercise 99.1 · X\n✓ a\n1/1 checks passed\n"),
                     nbformat.v4.new_output("display_data", data={"image/png": "AAAA", "text/plain": "<Figure>"})]))
    sol.cells[0].metadata["execution"] = {"t": 1}
    ex = tool.derive(sol)
    assert ex.cells[0].outputs == [] and ex.cells[0].execution_count is None
    assert ex.cells[0].metadata == {}
    assert [o.get("text", o.get("data")) for o in ex.cells[1].outputs] == [
        "Exercise 99.1 · X\n✓ a\n1/1 checks passed\n", {"text/plain": "<Figure>"}]
    assert set(ex.metadata) == {"kernelspec", "language_info"}
    assert sol.cells[0].outputs and "papermill" in sol.metadata, "derive must not modify its input"


def test_a_notebook_without_regions_is_copied():
    sol = notebook(("code", "x = 1"), ("md", "# Title"))
    assert [c.source for c in tool.derive(sol).cells] == ["x = 1", "# Title"]


@pytest.mark.parametrize("source, message", [
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION",
     r"line 2: BEGIN SOLUTION needs a hint"),
    ("def f():\n    # BEGIN SOLUTION hint=\"\"\n    return 1\n    # END SOLUTION",
     r"line 2: the hint of BEGIN SOLUTION is empty"),
    ("def f():\n    # BEGIN SOLUTION hint=bare words\n    return 1\n    # END SOLUTION",
     r"line 2: malformed BEGIN SOLUTION line"),
    ("def f():\n    # BEGIN SOLUTION hint=\"a\"\n    return 1",
     r"line 2: BEGIN SOLUTION has no END SOLUTION"),
    ("def f():\n    # BEGIN SOLUTION hint=\"a\"\n    # BEGIN SOLUTION hint=\"b\"\n    return 1\n"
     "    # END SOLUTION\n    # END SOLUTION",
     r"line 3: BEGIN SOLUTION inside the region opened at line 2 \(regions do not nest\)"),
    ("def f():\n    return 1\n    # END SOLUTION", r"line 3: END SOLUTION without a BEGIN SOLUTION"),
    ("def f():\n    # BEGIN SOLUTION hint=\"a\"\n    return 1\n    # END SOLUTION now",
     r"line 4: malformed END SOLUTION line"),
    ("# BEGIN SOLUTION hint=\"a\"\nx = 1\n# END SOLUTION", r"line 1: a solution region at the top level"),
    ("def f(a):\n    # BEGIN SOLUTION hint=\"a\"\n    if a:\n        return 1\n    # END SOLUTION\n"
     "    else:\n        return 2", r"line 3: the stubbed cell is not valid Python"),
])
def test_a_malformed_code_region_is_an_error_naming_notebook_cell_and_line(source, message):
    sol = notebook(("md", "# T"), ("code", source))
    with pytest.raises(DeriveError, match=r"^solutions/99_x\.ipynb: cell 1 \(id c001\), " + message):
        tool.derive(sol, "solutions/99_x.ipynb")


@pytest.mark.parametrize("source, message", [
    ("<!-- BEGIN SOLUTION -->\nanswer", r"line 1: BEGIN SOLUTION has no END SOLUTION"),
    ("<!-- BEGIN SOLUTION -->\n<!-- BEGIN SOLUTION -->\n<!-- END SOLUTION -->",
     r"line 2: BEGIN SOLUTION inside the region opened at line 1"),
    ("answer\n<!-- END SOLUTION -->", r"line 2: END SOLUTION without a BEGIN SOLUTION"),
    ("Answer: <!-- BEGIN SOLUTION --> yes <!-- END SOLUTION -->",
     r"line 1: a SOLUTION marker must be alone on its line"),
])
def test_a_malformed_markdown_region_is_an_error(source, message):
    with pytest.raises(DeriveError, match=r"^nb: cell 0 \(id c000\), " + message):
        tool.derive(notebook(("md", source)), "nb")


def test_a_solution_whose_check_cell_raised_cannot_be_derived():
    err = nbformat.v4.new_output("error", ename="GradingFailed", evalue="0/1", traceback=[])
    sol = notebook(("code", "# NBVAL_CHECK_OUTPUT\ngs.grading.check('99.1', globals())", [err]))
    with pytest.raises(DeriveError, match="checked cell raised: GradingFailed"):
        tool.derive(sol, "solutions/99_x.ipynb")


def test_check_reports_stale_missing_and_orphaned_exercises(tmp_path, monkeypatch):
    sols, exs = tmp_path / "solutions", tmp_path / "exercises"
    sols.mkdir()
    exs.mkdir()
    monkeypatch.setattr(tool, "SOLUTIONS", sols)
    monkeypatch.setattr(tool, "EXERCISES", exs)
    nbformat.write(notebook(("code", SOLVED)), sols / "98_a.ipynb")
    nbformat.write(notebook(("code", "x = 1")), sols / "99_b.ipynb")
    assert tool.main(["derive"]) == 0
    assert tool.out_of_sync() == []
    assert tool.main(["check"]) == 0
    (exs / "98_a.ipynb").write_text((exs / "98_a.ipynb").read_text().replace("gs.GenServer", "gs.Other"))
    (exs / "99_b.ipynb").unlink()
    (exs / "97_orphan.ipynb").write_text("{}")
    problems = tool.out_of_sync()
    assert [p.split(":")[0] for p in problems] == ["out of date", "missing", "orphan"]
    assert tool.main(["check"]) == 1


def test_derive_reports_a_malformed_solution_and_exits_2(tmp_path, monkeypatch, capsys):
    sols = tmp_path / "solutions"
    sols.mkdir()
    monkeypatch.setattr(tool, "SOLUTIONS", sols)
    monkeypatch.setattr(tool, "EXERCISES", tmp_path / "exercises")
    nbformat.write(notebook(("code", "def f():\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION")),
                   sols / "98_a.ipynb")
    assert tool.main(["derive"]) == 2
    assert "98_a.ipynb: cell 0 (id c000), line 2: BEGIN SOLUTION needs a hint" in capsys.readouterr().err


def test_the_committed_exercises_are_in_sync_with_the_solutions():
    done = subprocess.run([sys.executable, "tools/exercises.py", "check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr

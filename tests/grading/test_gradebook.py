"""The teacher's gradebook: honest rows for good, bad and hostile submissions, and a run that never stops.

One class of submissions, made from the 03 solution notebook by editing
cells (tools/synthetic_class.py), is graded once by the real command in a
subprocess; each test reads its row.
"""

import csv
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import time

import nbformat
import pytest

from genserver_lite.grading import gradebook, sandbox

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("synthetic_class", ROOT / "tools" / "synthetic_class.py")
synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synthetic)

NOTEBOOK = "03_genserver_template.ipynb"
ALL_CHECKS = [c.title for c in gradebook.core.get("03.1").checks]
CELL_TIMEOUT = 2


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade a class with one learner per kind of submission; returns (rows by learner, stdout, seconds)."""
    root = tmp_path_factory.mktemp("class")
    kinds = ["correct", "unsolved", "crashes_when_empty", *synthetic.HOSTILE]
    for kind in kinds:
        (root / kind).mkdir()
        nbformat.write(synthetic.variant(kind), root / kind / NOTEBOOK)
    (root / "broken").mkdir()
    (root / "broken" / NOTEBOOK).write_text("{ this is not json")
    (root / "other").mkdir()
    nbformat.write(synthetic.variant("correct"), root / "other" / "99_not_a_course_notebook.ipynb")
    (root / "empty").mkdir()
    out_csv = root / "grades.csv"
    folders = [str(root / k) for k in [*kinds, "broken", "other", "empty"]]
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "genserver_lite.grade", *folders, "--csv", str(out_csv),
                           "--cell-timeout", str(CELL_TIMEOUT), "--timeout", "40", "--jobs", "2"],
                          cwd=root, capture_output=True, text=True, timeout=240)
    seconds = time.monotonic() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out_csv, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == gradebook.COLUMNS
        rows, seen = {}, set()
        for row in reader:
            assert (row["learner"], row["exercise"]) not in seen, "one row per learner and exercise"
            seen.add((row["learner"], row["exercise"]))
            if row["exercise"] in ("03.1", ""):     # the tests read 03.1's rows (03.2 is graded alike)
                rows[row["learner"]] = row
    return rows, done.stdout, seconds


def errors(row):
    return row["errors"].split(" | ") if row["errors"] else []


def failed(row):
    return row["failed_checks"].split(" | ") if row["failed_checks"] else []


def test_every_submission_gets_a_row_and_a_progress_line_and_the_summary_lists_them(graded):
    rows, out, seconds = graded
    assert set(rows) == {"correct", "unsolved", "crashes_when_empty", *synthetic.HOSTILE, "broken",
                         "other", "empty"}
    progress = [line for line in out.splitlines() if line.startswith("[")]
    assert len(progress) == len(rows)
    assert any(line.startswith("[ 1/") for line in progress) and any(f"/{len(rows)}]" in line for line in progress)
    table = out[out.index("learner  "):]
    for learner, row in rows.items():
        assert f"\n{learner} " in table
    assert "\nmean " in table and f"{len(rows)} learner(s) graded in" in out


def test_correct_work_scores_full_marks_with_no_errors(graded):
    row = graded[0]["correct"]
    assert (row["notebook"], row["exercise"], row["title"]) == (NOTEBOOK, "03.1", "A Stack server")
    assert (row["score"], row["passed"], row["total"], row["failed_checks"], row["errors"]) == (
        "5/5", "5", "5", "", "")
    assert float(row["seconds"]) > 0


def test_unsolved_work_scores_zero_and_a_failing_check_cell_is_not_an_error(graded):
    row = graded[0]["unsolved"]
    assert (row["score"], failed(row), errors(row)) == ("0/5", ALL_CHECKS, [])


def test_a_plausible_mistake_scores_what_it_passes(graded):
    row = graded[0]["crashes_when_empty"]
    assert (row["score"], failed(row), errors(row)) == (
        "4/5", ["pop on an empty stack replies None and keeps the server alive"], [])


def test_a_notebook_that_hangs_is_interrupted_and_still_graded(graded):
    row = graded[0]["hangs"]
    assert row["score"] == "5/5"
    assert errors(row) == [f"run: cell 2 ran longer than {CELL_TIMEOUT} s and was interrupted",
                           "run: the kernel did not stop when interrupted at cell 2"]
    assert float(row["seconds"]) < 40


def test_a_cell_that_raises_is_an_error_not_a_stop(graded):
    row = graded[0]["raises"]
    assert (row["score"], errors(row)) == ("5/5", ["run: cell 2 raised ValueError: my experiment went wrong"])


def test_a_leaked_thread_is_reported(graded):
    row = graded[0]["leaks_threads"]
    assert (row["score"], errors(row)) == ("5/5", ["grade: leaked threads ['spinner']"])


def test_sys_exit_is_an_error_not_the_end(graded):
    row = graded[0]["sys_exit"]
    assert (row["score"], errors(row)) == ("5/5", ["run: cell 2 called sys.exit(3)"])


def test_os_exit_kills_the_kernel_but_not_the_grading(graded):
    row = graded[0]["exits_hard"]
    assert row["score"] == "5/5"
    assert errors(row) == ["run: the kernel died at cell 2 (os._exit? exit()? a crash?)",
                           "grade: cell 2 called os._exit(0)"]


def test_a_deleted_check_cell_changes_nothing_but_is_noted(graded):
    row = graded[0]["deletes_check_cell"]
    assert (row["score"], failed(row)) == ("4/5", ["pop on an empty stack replies None and keeps the server alive"])
    assert errors(row) == ["the check cell of 03.1 is missing (graded anyway)"]


def test_edited_checks_are_restored_and_reported(graded):
    row = graded[0]["edits_checks"]
    assert (row["score"], failed(row)) == ("0/5", ALL_CHECKS)
    assert errors(row) == ["grade: the notebook edited the grader (genserver_lite.grading.check, "
                           "genserver_lite.grading.probes.expect); restored before grading"]


def test_a_printed_fake_pass_is_never_believed(graded):
    row = graded[0]["prints_fake_pass"]
    assert (row["score"], failed(row)) == ("0/5", ALL_CHECKS)
    assert errors(row) == ["the check cell of 03.1 is missing (graded anyway)"]


def test_the_result_channel_is_hidden_from_the_learners_code(graded):
    row = graded[0]["forges_result"]
    assert (row["score"], failed(row), errors(row)) == ("0/5", ALL_CHECKS, [])


def test_unreadable_unknown_and_empty_submissions_get_a_row(graded):
    rows = graded[0]
    assert rows["broken"]["exercise"] == "" and rows["broken"]["score"] == "-"
    assert errors(rows["broken"])[0].startswith("not a readable notebook: JSONDecodeError")
    assert errors(rows["other"]) == ["not a course notebook with exercises (its name should be NN_slug.ipynb)"]
    assert errors(rows["empty"]) == ["no notebook found in the folder"]


# -- the channel and the discovery, without notebooks --------------------------------------


def test_a_result_without_the_runs_token_is_reported_as_forged(monkeypatch, tmp_path):
    def fake_run(argv, *, timeout, cwd, env=None, stdin=b"", also_kill=()):
        pathlib.Path(env[sandbox.RESULT_ENV]).write_text(json.dumps(
            {"token": "0" * 32, "exercises": [{"id": "03.1", "passed": 5, "total": 5, "failed": []}]}))
        return sandbox.ChildRun(0, "", False)

    monkeypatch.setattr(sandbox, "run_limited", fake_run)
    got = sandbox.grade(tmp_path / NOTEBOOK, "03_genserver_template", timeout=5, cell_timeout=1)
    assert got["exercises"] is None
    assert got["errors"] == ["the grading result was forged or damaged (wrong token)"]


def test_a_child_that_writes_nothing_or_is_killed_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "run_limited", lambda *a, **k: sandbox.ChildRun(-9, "", False))
    got = sandbox.grade(tmp_path / NOTEBOOK, "03_genserver_template", timeout=5, cell_timeout=1)
    assert got["errors"] == ["the grading process ended (exit code -9) before writing its result "
                             "(did the notebook kill its own process?)"]
    monkeypatch.setattr(sandbox, "run_limited", lambda *a, **k: sandbox.ChildRun(-9, "", True))
    got = sandbox.grade(tmp_path / NOTEBOOK, "03_genserver_template", timeout=5, cell_timeout=1)
    assert got["errors"] == ["grading timed out after 5 s and was killed"]


def test_run_limited_kills_the_whole_process_group_at_its_limit(tmp_path):
    marker = tmp_path / "grandchild.pid"
    script = (f"import subprocess, sys, time\n"
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              f"open({str(marker)!r}, 'w').write(str(p.pid))\n"
              f"time.sleep(60)\n")
    t0 = time.monotonic()
    run = sandbox.run_limited([sys.executable, "-c", script], timeout=1.5, cwd=tmp_path)
    assert run.timed_out and time.monotonic() - t0 < 10
    pid = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)        # a killed grandchild is reaped by init: poll the OS, no runtime involved
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_discover_takes_folders_and_files_and_refuses_anything_else(tmp_path):
    (tmp_path / "ann" / ".ipynb_checkpoints").mkdir(parents=True)
    for p in ("ann/03_genserver_template.ipynb", "ann/.ipynb_checkpoints/03_genserver_template-checkpoint.ipynb",
              "bo/03_genserver_template (1).ipynb"):
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_text("{}")
    subs = gradebook.discover([tmp_path / "ann", tmp_path / "bo" / "03_genserver_template (1).ipynb"])
    assert [(s.learner, s.path.name) for s in subs] == [("ann", NOTEBOOK), ("bo", "03_genserver_template (1).ipynb")]
    assert gradebook.notebook_stem(subs[1].path) == "03_genserver_template"
    assert gradebook.notebook_stem(pathlib.Path("03_other.ipynb")) is None
    with pytest.raises(ValueError, match="notes.txt: not a folder of notebooks nor a .ipynb file"):
        gradebook.discover([tmp_path / "notes.txt"])


def test_bad_command_lines_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        gradebook.main([str(tmp_path / "missing"), "--csv", str(tmp_path / "g.csv")])
    assert "not a folder of notebooks" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        gradebook.main([str(tmp_path), "--jobs", "0"])
    assert not os.path.exists(tmp_path / "g.csv")

"""The teacher's gradebook: grade a class's notebooks and write a row per learner and exercise.

``python -m genserver_lite.grade SUBMISSIONS... --csv grades.csv`` (the
course's nbgrader ``autograde`` + ``export``). A submission is a folder (one
per learner; the folder's name is the learner; every ``NN_slug.ipynb`` in it
is graded) or a notebook file (the learner is its folder's name). Each
notebook is

1. executed top to bottom in its own kernel, with a time limit
   (:mod:`.kernel`), to record what goes wrong when it runs;
2. graded in a fresh process (:mod:`.sandbox`) that runs the learner's code
   cells and then the package's own checks for the exercises of that
   notebook, known from its file name.

Nothing the notebook printed or stored is read. A submission that hangs,
raises, leaks threads, exits, deletes or edits its check cells, or prints a
fake "5/5 checks passed" gets an honest row, and the run goes on. Progress
is one line per notebook; a summary table ends the run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import os
import pathlib
import re
import threading
import time

from . import core, kernel, sandbox

__all__ = ["Submission", "Row", "discover", "notebook_stem", "grade_submission", "grade_all",
           "write_csv", "summary", "main", "COLUMNS"]

COLUMNS = ["learner", "notebook", "exercise", "title", "score", "passed", "total", "failed_checks",
           "errors", "seconds"]


@dataclasses.dataclass(frozen=True)
class Submission:
    """One notebook of one learner."""

    learner: str
    path: pathlib.Path


@dataclasses.dataclass
class Row:
    """A learner's result on one exercise (or, with ``exercise == ""``, a notebook that could not be graded)."""

    learner: str
    notebook: str
    exercise: str
    title: str
    passed: int
    total: int
    failed: list
    errors: list
    seconds: float

    @property
    def score(self) -> str:
        return f"{self.passed}/{self.total}" if self.exercise else "-"

    def as_csv(self) -> dict:
        return {"learner": self.learner, "notebook": self.notebook, "exercise": self.exercise,
                "title": self.title, "score": self.score, "passed": self.passed, "total": self.total,
                "failed_checks": " | ".join(self.failed), "errors": " | ".join(self.errors),
                "seconds": f"{self.seconds:.1f}"}


def discover(args) -> list[Submission]:
    """The notebooks to grade, from folders (one per learner) and notebook files.

    Raises:
        ValueError: an argument that is neither a folder nor an ``.ipynb`` file.
    """
    subs = []
    for arg in args:
        p = pathlib.Path(arg)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
            subs += [Submission(p.resolve().name, q) for q in found]
            if not found:
                subs.append(Submission(p.resolve().name, p))
        elif p.is_file() and p.suffix == ".ipynb":
            subs.append(Submission(p.resolve().parent.name, p))
        else:
            raise ValueError(f"{arg}: not a folder of notebooks nor a .ipynb file")
    return subs


def notebook_stem(path: pathlib.Path) -> str | None:
    """The course notebook a file is, from its name: ``03_genserver_template.ipynb``, or a copy
    such as ``03_genserver_template (1).ipynb`` when its number is unambiguous; None if unknown."""
    stems = sorted({e.notebook for e in core.exercises()})
    if path.stem in stems:
        return path.stem
    m = re.match(r"^(\d\d)(?:[_ -]|$)", path.stem)
    if m:
        same = [s for s in stems if s[:2] == m.group(1)]
        if len(same) == 1 and path.stem.startswith(same[0]):
            return same[0]
    return None


def _check_cell_present(cells, exercise_id: str) -> bool:
    pattern = re.compile(r"grading\.check\(\s*['\"]" + re.escape(exercise_id) + r"['\"]")
    return any(kind == "code" and pattern.search(src) for kind, src in cells)


def grade_submission(sub: Submission, *, timeout: float = 120.0, cell_timeout: float = 10.0) -> list[Row]:
    """Run and grade one notebook; returns its rows (one per exercise of the notebook)."""
    t0 = time.monotonic()
    name = sub.path.name

    def failure(why: str) -> list[Row]:
        return [Row(sub.learner, name, "", "", 0, 0, [], [why], time.monotonic() - t0)]

    if sub.path.is_dir():
        return failure("no notebook found in the folder")
    stem = notebook_stem(sub.path)
    if stem is None:
        return failure("not a course notebook with exercises (its name should be NN_slug.ipynb)")
    try:
        cells = kernel.read_cells(sub.path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a row, not a crash
        return failure(f"not a readable notebook: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
    run = kernel.execute(sub.path.resolve(), timeout=timeout, cell_timeout=cell_timeout)
    graded = sandbox.grade(sub.path.resolve(), stem, timeout=timeout, cell_timeout=cell_timeout)
    common = [f"run: {e}" for e in run["errors"]]
    common += [f"grade: {e}" for e in graded.get("errors", [])]
    common += [f"grade: {e}" for e in graded.get("cell_errors", []) if f"run: {e}" not in common]
    if graded.get("tampered"):
        common.append(f"grade: the notebook edited the grader ({', '.join(graded['tampered'][:5])}); "
                      f"restored before grading")
    if graded.get("leaked_threads"):
        common.append(f"grade: leaked threads {graded['leaked_threads'][:5]}")
    seconds = time.monotonic() - t0
    reports = {r["id"]: r for r in graded.get("exercises") or []}
    rows = []
    for ex in core.exercises(stem):
        errors = list(common)
        if not _check_cell_present(cells, ex.id):
            errors.append(f"the check cell of {ex.id} is missing (graded anyway)")
        r = reports.get(ex.id)
        if r is None:
            rows.append(Row(sub.learner, name, ex.id, ex.title, 0, len(ex.checks),
                            [c.title for c in ex.checks], errors or ["not graded"], seconds))
        else:
            rows.append(Row(sub.learner, name, ex.id, ex.title, r["passed"], r["total"], r["failed"],
                            errors, seconds))
    return rows


def grade_all(subs, *, jobs: int = 2, timeout: float = 120.0, cell_timeout: float = 10.0,
              progress=None) -> list[Row]:
    """Grade every submission, ``jobs`` at a time; ``progress(line)`` is called once per notebook."""
    lock = threading.Lock()
    done = [0]
    rows: list[Row] = []

    def one(sub):
        try:
            got = grade_submission(sub, timeout=timeout, cell_timeout=cell_timeout)
        except Exception as e:  # noqa: BLE001 - a bug or an OS error: the row says so, the run goes on
            got = [Row(sub.learner, sub.path.name, "", "", 0, 0, [],
                       [f"the gradebook failed on this notebook: {type(e).__name__}: {e}"], 0.0)]
        with lock:
            done[0] += 1
            rows.extend(got)
            if progress is not None:
                progress(_progress_line(done[0], len(subs), sub, got))
        return got

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, subs))
    return sorted(rows, key=lambda r: (r.learner, r.notebook, _id_key(r.exercise)))


def _id_key(exercise_id: str) -> tuple:
    return tuple(int(x) for x in exercise_id.split(".")) if exercise_id else ()


def _progress_line(i: int, n: int, sub: Submission, rows: list[Row]) -> str:
    width = len(str(n))
    scores = " ".join(f"{r.exercise} {r.score}" for r in rows if r.exercise) or "not graded"
    errors = sorted({e for r in rows for e in r.errors})
    tail = f"  ! {errors[0]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "") if errors else ""
    secs = max((r.seconds for r in rows), default=0.0)
    return f"[{i:>{width}}/{n}] {sub.learner} / {sub.path.name}: {scores} ({secs:.1f} s){tail}"


def write_csv(rows, path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow(r.as_csv())


def summary(rows, seconds: float | None = None) -> str:
    """A table: one line per learner, one column per exercise, and the mean of each exercise."""
    ids = sorted({r.exercise for r in rows if r.exercise}, key=_id_key)
    learners = sorted({r.learner for r in rows})
    cell = {(r.learner, r.exercise): r for r in rows}
    errs = {name: len({e for r in rows if r.learner == name for e in r.errors}) for name in learners}
    head = ["learner", *ids, "errors"]
    body = [[name, *(cell[(name, i)].score if (name, i) in cell else "" for i in ids), str(errs[name])]
            for name in learners]
    means = []
    for i in ids:
        got = [cell[(n, i)] for n in learners if (n, i) in cell]
        means.append(f"{100 * sum(r.passed for r in got) / max(1, sum(r.total for r in got)):.0f}%")
    foot = ["mean", *means, ""]
    widths = [max(len(row[c]) for row in [head, *body, foot]) for c in range(len(head))]

    def line(row):
        return "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()

    out = [line(head), line(["-" * w for w in widths]), *map(line, body), line(foot)]
    notebooks = len({(r.learner, r.notebook) for r in rows})
    tail = f"{notebooks} notebook(s) of {len(learners)} learner(s)"
    if seconds is not None:
        tail += f" graded in {seconds:.1f} s"
    return "\n".join(out + ["", tail])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genserver_lite.grade",
                                 description="Grade the course's exercise notebooks of a class.")
    ap.add_argument("submissions", nargs="+", help="folders (one per learner) or notebook files")
    ap.add_argument("--csv", default="grades.csv", help="where to write the rows (default grades.csv)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="notebooks graded at once (default: 2, or 1 on one core)")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds a notebook may run, in its kernel and in the grader (default 120)")
    ap.add_argument("--cell-timeout", type=float, default=10.0,
                    help="seconds a cell may run before it is interrupted (default 10)")
    args = ap.parse_args(argv)
    if args.jobs < 1 or args.timeout <= 0 or args.cell_timeout <= 0:
        ap.error("--jobs, --timeout and --cell-timeout must be positive")
    try:
        subs = discover(args.submissions)
    except ValueError as e:
        ap.error(str(e))
    t0 = time.monotonic()
    print(f"grading {len(subs)} notebook(s), {args.jobs} at a time", flush=True)
    rows = grade_all(subs, jobs=args.jobs, timeout=args.timeout, cell_timeout=args.cell_timeout,
                     progress=lambda line: print(line, flush=True))
    write_csv(rows, args.csv)
    print()
    print(summary(rows, time.monotonic() - t0))
    print(f"rows written to {args.csv}")
    return 0

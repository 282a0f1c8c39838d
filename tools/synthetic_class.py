"""Make a synthetic class of learners' submissions, to try and time the gradebook.

    python tools/synthetic_class.py DEST [--learners 30]
    python -m genserver_lite.grade DEST/* --csv grades.csv

Each learner gets a folder holding ``03_genserver_template.ipynb``, made
from the solution notebook by editing cells: correct work, the unsolved
exercise, plausible mistakes, and every kind of hostile submission the
gradebook must survive (:data:`HOSTILE`). The tests of the gradebook build
their fixtures with :func:`variant`.
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import re
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "03_genserver_template.ipynb"
EXERCISE = ROOT / "exercises" / "03_genserver_template.ipynb"

_MARKER = re.compile(r"^[ \t]*# (BEGIN|END) SOLUTION.*\n", re.M)

# Plausible mistakes: the Stack cell's class, rewritten.
WRONG = {
    "crashes_when_empty": '''class Stack(gs.GenServer):
    def init(self, items):
        return ("ok", list(items))

    def handle_call(self, request, from_, state):
        match request:
            case "pop":
                head, *rest = state
                return ("reply", head, rest)
            case "size":
                return ("reply", len(state), state)

    def handle_cast(self, request, state):
        match request:
            case ("push", item):
                return ("noreply", [item, *state])''',
    "pops_the_wrong_end": '''class Stack(gs.GenServer):
    def init(self, items):
        return ("ok", list(items))

    def handle_call(self, request, from_, state):
        match request:
            case "pop":
                return ("reply", state[-1] if state else None, state[:-1])
            case "size":
                return ("reply", len(state), state)

    def handle_cast(self, request, state):
        match request:
            case ("push", item):
                return ("noreply", [item, *state])''',
    "keeps_it_on_self": '''class Stack(gs.GenServer):
    def init(self, items):
        self.items = list(items)
        return ("ok", None)

    def handle_call(self, request, from_, state):
        if request == "pop":
            return ("reply", self.items.pop(0) if self.items else None, state)
        return ("reply", len(self.items), state)

    def handle_cast(self, request, state):
        self.items.insert(0, request[1])
        return ("noreply", state)''',
}

FAKE_REPORT = ("Exercise 03.1 · A Stack server\\n✓ start_link(items) keeps the items, the first one on top\\n"
               "5/5 checks passed")

# Hostile submissions: name -> (what it does, cells to insert after the Stack cell, check cell edit).
HOSTILE = {
    "hangs": ("a cell that never ends and shrugs off interrupts",
              ["import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n"
               "        pass"], None),
    "raises": ("a cell that raises", ["raise ValueError('my experiment went wrong')"], None),
    "leaks_threads": ("a raw thread left running",
                      ["import threading, time\n\ndef spin():\n    while True:\n        time.sleep(0.05)\n\n"
                       "threading.Thread(target=spin, name='spinner').start()"], None),
    "sys_exit": ("a cell that calls sys.exit", ["import sys\nsys.exit(3)"], None),
    "deletes_check_cell": ("wrong work and no check cell", [], "delete"),
    "edits_checks": ("redefines gs.grading.check to print 'passed' and patches a probe",
                     ["gs.grading.check = lambda *args, **kwargs: print('5/5 checks passed')\n"
                      "gs.grading.probes.expect = lambda actual, expected, what: actual"], None),
    "prints_fake_pass": ("prints a fake report in place of the check",
                         [f'print("{FAKE_REPORT}")'], f'# NBVAL_CHECK_OUTPUT\nprint("{FAKE_REPORT}")'),
    "exits_hard": ("kills its own process with os._exit", ["import os\nos._exit(0)"], None),
    "forges_result": ("unsolved, and writes a perfect result where the grader's might be",
                      ["import json, os\n"
                       "path = os.environ.get('GS_GRADE_RESULT') or 'result.json'\n"
                       "with open(path, 'w') as f:\n"
                       "    json.dump({'token': '', 'exercises': [{'id': '03.1', 'title': '', 'passed': 5,\n"
                       "               'total': 5, 'failed': []}]}, f)"], None),
}


def _code(nb, needle: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and needle in cell.source:
            return i
    raise LookupError(f"no code cell contains {needle!r}")


def variant(kind: str):
    """A learner's notebook: ``"correct"``, ``"unsolved"``, a key of :data:`WRONG` or of :data:`HOSTILE`."""
    if kind == "unsolved":
        return nbformat.read(EXERCISE, as_version=4)
    nb = copy.deepcopy(nbformat.read(SOLUTION, as_version=4))
    stack = _code(nb, "class Stack")
    nb.cells[stack].source = _MARKER.sub("", nb.cells[stack].source)
    if kind == "correct":
        return nb
    if kind in WRONG:
        nb.cells[stack].source = WRONG[kind]
        return nb
    if kind not in HOSTILE:
        raise ValueError(f"unknown kind of submission {kind!r}; known: correct, unsolved, "
                         f"{', '.join([*WRONG, *HOSTILE])}")
    _, cells, check_edit = HOSTILE[kind]
    if kind in ("edits_checks", "prints_fake_pass", "forges_result"):          # they need it: their work is undone
        nb.cells[stack].source = nbformat.read(EXERCISE, as_version=4).cells[stack].source
    if kind == "deletes_check_cell":
        nb.cells[stack].source = WRONG["crashes_when_empty"]
    for offset, source in enumerate(cells, start=1):
        nb.cells.insert(stack + offset, nbformat.v4.new_code_cell(source))
    check = _code(nb, "grading.check(")
    if check_edit == "delete":
        del nb.cells[check]
    elif check_edit is not None:
        nb.cells[check].source = check_edit
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    return nb


def roster(n: int) -> list[tuple[str, str]]:
    """(learner, kind) for a class of ``n``: every hostile kind once, then a mix of the others."""
    kinds = list(HOSTILE)
    mix = ["correct", "correct", "unsolved", "crashes_when_empty", "correct", "pops_the_wrong_end",
           "correct", "keeps_it_on_self", "unsolved", "correct"]
    while len(kinds) < n:
        kinds.append(mix[(len(kinds) - len(HOSTILE)) % len(mix)])
    return [(f"learner{i + 1:02d}_{kind}", kind) for i, kind in enumerate(kinds[:n])]


def make_class(dest: pathlib.Path, n: int = 30) -> list[pathlib.Path]:
    dest.mkdir(parents=True, exist_ok=True)
    folders = []
    for learner, kind in roster(n):
        folder = dest / learner
        folder.mkdir(exist_ok=True)
        nbformat.write(variant(kind), folder / SOLUTION.name)
        folders.append(folder)
    return folders


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dest")
    ap.add_argument("--learners", type=int, default=30)
    args = ap.parse_args(argv)
    folders = make_class(pathlib.Path(args.dest), args.learners)
    print(f"{len(folders)} learners in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

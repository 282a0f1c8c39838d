"""Derive the learners' exercise notebooks from the solutions, and check that they are in sync.

``solutions/NN_slug.ipynb`` is the single source of an exercise notebook;
``exercises/NN_slug.ipynb`` is derived from it::

    python tools/exercises.py derive [solutions/NN_slug.ipynb ...]   # all when none named
    python tools/exercises.py check                                  # exit 1 if exercises/ is stale

In a code cell, a solution region is fenced by two comment lines::

    def init(self, items):
        # BEGIN SOLUTION hint="return ('ok', state): keep the items as a list"
        return ("ok", list(items))
        # END SOLUTION

and becomes ``raise NotImplementedError("<hint>")`` at the indentation of
the BEGIN line. The hint is required, and a region must sit inside a
function or method body (a stub at the top level of a cell would raise as
soon as the learner runs the cell). In a markdown cell,
``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` becomes
``*Your answer here.*``. Regions neither nest nor stay open.

Outputs: the check cells (``# NBVAL_CHECK_OUTPUT``) keep the outputs stored
in the solution (all ✓), so nbval passes the exercise notebook only once it
is solved; every other output is stripped, and the notebook metadata is
kept minimal (``tools/nb.py``'s ``keep_checked_outputs``).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import pathlib
import re
import sys

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import nb as nbtools  # noqa: E402 - tools/nb.py, the course's notebook tooling

ROOT = nbtools.ROOT
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
STUB_MARKDOWN = "*Your answer here.*"

_CODE_MARK = re.compile(r"^(?P<indent>[ \t]*)#\s*(?P<kind>BEGIN|END) SOLUTION\b(?P<rest>.*)$")
_HINT = re.compile(r"""^\s+hint=(?P<lit>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*$""")
_MD_MARK = re.compile(r"^\s*<!--\s*(?P<kind>BEGIN|END) SOLUTION\s*-->\s*$")
_MD_LOOSE = re.compile(r"<!--\s*(BEGIN|END) SOLUTION")


class DeriveError(ValueError):
    """A solution notebook that cannot be turned into an exercise; the message names notebook, cell and line."""


def _where(path, index: int, cell, line_no: int | None = None) -> str:
    cid = cell.get("id")
    where = f"{path}: cell {index}" + (f" (id {cid})" if cid else "")
    return where + (f", line {line_no}" if line_no is not None else "")


def _parse_hint(rest: str, where: str) -> str:
    if not rest.strip():
        raise DeriveError(f"{where}: BEGIN SOLUTION needs a hint: # BEGIN SOLUTION hint=\"...\"")
    m = _HINT.match(rest)
    if m is None:
        raise DeriveError(f"{where}: malformed BEGIN SOLUTION line; write "
                          f"# BEGIN SOLUTION hint=\"...\" (got {rest.strip()!r})")
    hint = ast.literal_eval(m.group("lit"))
    if not hint.strip():
        raise DeriveError(f"{where}: the hint of BEGIN SOLUTION is empty")
    return hint


def derive_code(source: str, where) -> tuple[str, int]:
    """A code cell's source with its solution regions stubbed; returns (source, regions replaced).

    ``where(line_no)`` names the cell in error messages.
    """
    out: list[str] = []
    open_at = None               # (line number, indent) of the open region
    count = 0
    for no, line in enumerate(source.split("\n"), start=1):
        m = _CODE_MARK.match(line)
        if m is None:
            if open_at is None:
                out.append(line)
            continue
        if m.group("kind") == "BEGIN":
            if open_at is not None:
                raise DeriveError(f"{where(no)}: BEGIN SOLUTION inside the region opened at line "
                                  f"{open_at[0]} (regions do not nest)")
            hint = _parse_hint(m.group("rest"), where(no))
            if not m.group("indent"):
                raise DeriveError(f"{where(no)}: a solution region at the top level of a cell would "
                                  f"raise as soon as the cell runs; fence the body of a function or "
                                  f"method instead")
            open_at = (no, m.group("indent"))
            out.append(f"{m.group('indent')}raise NotImplementedError({json.dumps(hint, ensure_ascii=False)})")
        else:
            if m.group("rest").strip():
                raise DeriveError(f"{where(no)}: malformed END SOLUTION line (nothing may follow it)")
            if open_at is None:
                raise DeriveError(f"{where(no)}: END SOLUTION without a BEGIN SOLUTION")
            open_at = None
            count += 1
    if open_at is not None:
        raise DeriveError(f"{where(open_at[0])}: BEGIN SOLUTION has no END SOLUTION")
    return "\n".join(out), count


def derive_markdown(source: str, where) -> tuple[str, int]:
    """A markdown cell's source with its written answers replaced by *Your answer here.*"""
    out: list[str] = []
    open_at = None
    count = 0
    for no, line in enumerate(source.split("\n"), start=1):
        m = _MD_MARK.match(line)
        if m is None:
            if _MD_LOOSE.search(line):
                raise DeriveError(f"{where(no)}: a SOLUTION marker must be alone on its line: "
                                  f"<!-- BEGIN SOLUTION --> or <!-- END SOLUTION -->")
            if open_at is None:
                out.append(line)
            continue
        if m.group("kind") == "BEGIN":
            if open_at is not None:
                raise DeriveError(f"{where(no)}: BEGIN SOLUTION inside the region opened at line "
                                  f"{open_at} (regions do not nest)")
            open_at = no
            out.append(STUB_MARKDOWN)
        else:
            if open_at is None:
                raise DeriveError(f"{where(no)}: END SOLUTION without a BEGIN SOLUTION")
            open_at = None
            count += 1
    if open_at is not None:
        raise DeriveError(f"{where(open_at)}: BEGIN SOLUTION has no END SOLUTION")
    return "\n".join(out), count


def _is_python(source: str) -> bool:
    """Whether a cell is plain Python (no IPython magics or shell escapes), so it can be parsed."""
    return not any(line.lstrip().startswith(("%", "!")) for line in source.split("\n"))


def derive(solution, path="<notebook>"):
    """The exercise notebook derived from a solution notebook (a new object; ``solution`` is untouched).

    Raises:
        DeriveError: a malformed region, or a stubbed cell that is no longer valid Python.
    """
    ex = copy.deepcopy(solution)
    for i, cell in enumerate(ex.cells):
        def where(no=None, i=i, cell=cell):
            return _where(path, i, cell, no)
        if cell.cell_type == "code":
            source, n = derive_code(cell.source, where)
            if n and _is_python(source):
                try:
                    ast.parse(source)
                except SyntaxError as e:
                    raise DeriveError(f"{where(e.lineno)}: the stubbed cell is not valid Python "
                                      f"({e.msg}); does a region end in the middle of a block?") from None
        elif cell.cell_type == "markdown":
            source, n = derive_markdown(cell.source, where)
        else:
            continue
        cell.source = source
    try:
        return nbtools.keep_checked_outputs(ex)
    except RuntimeError as e:
        raise DeriveError(f"{path}: {e} (rebuild the solution: python tools/nb.py refresh {path})") from None


def exercise_path(solution_path: pathlib.Path) -> pathlib.Path:
    return EXERCISES / solution_path.name


def solution_notebooks() -> list[pathlib.Path]:
    return sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))


def derived_text(solution_path: pathlib.Path) -> str:
    """The exact text ``derive`` writes for one solution notebook."""
    rel = _rel(solution_path)
    text = nbformat.writes(derive(nbformat.read(solution_path, as_version=4), rel))
    return text if text.endswith("\n") else text + "\n"


def _rel(p: pathlib.Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def write_derived(paths: list[pathlib.Path]) -> list[pathlib.Path]:
    EXERCISES.mkdir(exist_ok=True)
    written = []
    for p in paths:
        dest = exercise_path(p)
        dest.write_text(derived_text(p))
        written.append(dest)
    return written


def out_of_sync() -> list[str]:
    """What ``check`` complains about: stale, missing and orphaned exercise notebooks."""
    problems = []
    solutions = solution_notebooks()
    for p in solutions:
        dest = exercise_path(p)
        if not dest.exists():
            problems.append(f"missing: {_rel(dest)} (derive it from {_rel(p)})")
        elif dest.read_text() != derived_text(p):
            problems.append(f"out of date: {_rel(dest)} differs from what {_rel(p)} derives")
    names = {p.name for p in solutions}
    for dest in sorted(EXERCISES.glob("*.ipynb")):
        if dest.name not in names:
            problems.append(f"orphan: {_rel(dest)} has no solutions/{dest.name}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("derive", help="write exercises/NN_slug.ipynb from solutions/NN_slug.ipynb")
    a.add_argument("notebooks", nargs="*", help="solution notebooks (default: all of solutions/)")
    sub.add_parser("check", help="exit 1 if exercises/ is not exactly what derive produces")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "derive":
            paths = [pathlib.Path(p).resolve() for p in args.notebooks] or solution_notebooks()
            for p in paths:
                if p.parent != SOLUTIONS.resolve():
                    raise DeriveError(f"{p}: derive reads notebooks in {_rel(SOLUTIONS)}/ only")
            for dest in write_derived(paths):
                print(f"derived {_rel(dest)}")
        else:
            problems = out_of_sync()
            if problems:
                print("exercises/ is out of sync with solutions/ "
                      "(run: python tools/exercises.py derive):", *problems, sep="\n  ")
                return 1
            print(f"exercises/ is in sync ({len(solution_notebooks())} notebooks)")
    except DeriveError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

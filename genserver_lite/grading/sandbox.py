"""Grade one submitted notebook in a fresh process: run the learner's cells, then the package's checks.

The gradebook never trusts what a notebook printed or stored. For each
submission it starts this module in a new interpreter (``python -I -m
genserver_lite.grading.sandbox NOTEBOOK STEM``) which:

1. takes the path of its result file from the environment (and removes it
   from there) before any learner code runs;
2. runs the learner's code cells, every code cell except the check cells,
   in an IPython shell (magics work), each interrupted after
   ``--cell-timeout`` seconds; errors, ``sys.exit`` and hangs are recorded,
   never fatal;
3. restores the grader's code if a cell edited it (:class:`Guard`), and
   runs the checks of the notebook's exercises, known from the file name
   ``NN_slug`` and taken from the package before any learner code ran, so a
   deleted or edited check cell changes nothing;
4. notes the threads the learner's code left running, and writes the
   results, with the per-run token it reads from stdin only now, to the
   result file, then leaves with ``os._exit`` (a leaked thread cannot hold
   it). While learner code runs, ``os._exit`` raises instead, so a cell
   that calls it is an error, not the end of the grading.

The parent (:func:`grade`) knows the token; a result file without it, or
no file at all, is reported as such. Printing cannot forge a result: stdout
is not read.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["grade", "run_limited", "ChildRun", "RESULT_ENV"]

RESULT_ENV = "GS_GRADE_RESULT"
_CHECK_CALL = "grading.check("


class ChildRun(tuple):
    """(returncode, stderr tail, timed_out) of a child process run by :func:`run_limited`."""

    __slots__ = ()

    def __new__(cls, returncode, stderr, timed_out):
        return super().__new__(cls, (returncode, stderr, timed_out))

    returncode = property(lambda self: self[0])
    stderr = property(lambda self: self[1])
    timed_out = property(lambda self: self[2])


def run_limited(argv, *, timeout: float, cwd, env=None, stdin: bytes = b"", also_kill=()) -> ChildRun:
    """Run ``argv`` in a new session; at ``timeout`` kill its whole process group (and the pids
    listed in the files ``also_kill``, each with its own group). stdout is discarded."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        timed_out = False
        try:
            proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            for path in also_kill:
                try:
                    _kill_group(int(pathlib.Path(path).read_text().strip()))
                except (OSError, ValueError):
                    pass
            proc.wait()
        err.seek(0)
        tail = err.read()[-4000:].decode("utf-8", "replace")
    return ChildRun(proc.returncode, tail, timed_out)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def grade(notebook: pathlib.Path, stem: str, *, timeout: float, cell_timeout: float) -> dict:
    """Grade ``notebook`` as the course notebook ``stem`` in a fresh process; returns its result dict.

    On failure (timeout, crash, forged or missing result) the dict has
    ``"exercises": None`` and ``"errors"`` saying what happened.
    """
    token = os.urandom(16).hex()
    with tempfile.TemporaryDirectory(prefix="gs-grade-") as tmp:
        work = pathlib.Path(tmp) / "work"
        work.mkdir()
        result = pathlib.Path(tmp) / "result.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GS_GRADE")}
        env[RESULT_ENV] = str(result)
        t0 = time.monotonic()
        run = run_limited([sys.executable, "-I", "-m", __name__, str(notebook), stem,
                           "--cell-timeout", str(cell_timeout)],
                          timeout=timeout, cwd=work, env=env, stdin=token.encode() + b"\n")
        seconds = time.monotonic() - t0
        failed = {"exercises": None, "cell_errors": [], "tampered": [], "leaked_threads": [],
                  "seconds": seconds}
        if run.timed_out:
            return {**failed, "errors": [f"grading timed out after {timeout:g} s and was killed"]}
        try:
            data = json.loads(result.read_text())
        except (OSError, ValueError):
            last = run.stderr.strip().splitlines()[-1:]
            why = f": {last[0][:200]}" if last else " (did the notebook kill its own process?)"
            return {**failed, "errors": [f"the grading process ended (exit code {run.returncode}) "
                                         f"before writing its result{why}"]}
    if not isinstance(data, dict) or data.get("token") != token:
        return {**failed, "errors": ["the grading result was forged or damaged (wrong token)"]}
    data["seconds"] = seconds
    data.setdefault("errors", [])
    return data


# -- the child: runs in the fresh process -----------------------------------------------------


class CellTimeout(BaseException):
    """Raised (by SIGALRM) in a learner's cell that runs too long; a BaseException so ``except Exception`` misses it."""


class HardExit(BaseException):
    """Raised in place of ``os._exit`` while the learner's code runs: the grader decides when to leave."""

    def __init__(self, code=0):
        self.code = code
        super().__init__(code)


def _refuse_exit(code=0):
    raise HardExit(code)


def _on_alarm(signum, frame):
    signal.setitimer(signal.ITIMER_REAL, 0.5)    # again and again, if the cell catches it
    raise CellTimeout()


def learner_cells(cells) -> list[tuple[int, str]]:
    """(index among code cells, source) of every code cell that is not a check cell.

    ``cells`` are (cell_type, source) pairs, as :func:`.kernel.read_cells` gives.
    """
    code = [src for kind, src in cells if kind == "code"]
    return [(i, src) for i, src in enumerate(code) if _CHECK_CALL not in src]


def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.enable_gui = lambda gui=None: None      # %matplotlib: no event loop here, figures go nowhere
    return shell


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    if isinstance(exc, HardExit):
        return f"called os._exit({exc.code!r})"
    text = str(exc).strip().splitlines()
    return f"raised {type(exc).__name__}" + (f": {text[0][:160]}" if text else "")


def _run_cells(shell, cells, cell_timeout: float) -> list[str]:
    errors = []
    devnull = open(os.devnull, "w")
    for index, source in cells:
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = devnull
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, cell_timeout)
        exc = None
        try:
            result = shell.run_cell(source, store_history=False)
            exc = result.error_in_exec or result.error_before_exec
        except CellTimeout as e:              # raised outside the cell's own code
            exc = e
        finally:
            while True:                       # an alarm may still land here: disarm until it is quiet
                try:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, signal.SIG_DFL)
                    break
                except CellTimeout:           # the cell had just finished: the late alarm is moot
                    pass
            sys.stdout, sys.stderr = old
        if isinstance(exc, CellTimeout):
            errors.append(f"cell {index} ran longer than {cell_timeout:g} s and was interrupted")
        elif exc is not None:
            errors.append(f"cell {index} {_describe(exc)}")
    devnull.close()
    return errors


def _attrs(obj) -> dict:
    """A copy of an object's attributes, lists copied (so an in-place edit shows)."""
    return {k: list(v) if isinstance(v, list) else v for k, v in vars(obj).items()}


def child(argv=None) -> None:
    """The grading process's main: see the module docstring. Never returns."""
    result_path = os.environ.pop(RESULT_ENV, None)
    stdin = sys.stdin            # the token arrives here; read it only after the learner's code ran
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook")
    ap.add_argument("stem")
    ap.add_argument("--cell-timeout", type=float, default=30.0)
    args = ap.parse_args(argv)
    if not result_path:
        print(f"{__name__}: run by the gradebook only ({RESULT_ENV} is not set)", file=sys.stderr)
        os._exit(2)

    import genserver_lite as gs
    from . import core
    from .guard import Guard
    from .kernel import read_cells

    plan = [(ex, [core.Check(c.title, c.hint, c.fn, c.timeout) for c in ex.checks])
            for ex in core.exercises(args.stem)]
    cells = read_cells(args.notebook)
    shell = _shell()
    leave = os._exit
    os._exit = _refuse_exit               # before the guard's snapshot, so the guard keeps it in place
    guard = Guard()
    declared = [(ex, _attrs(ex)) for ex, _ in plan]
    before = set(threading.enumerate())
    cell_errors = _run_cells(shell, learner_cells(cells), args.cell_timeout)
    tampered = guard.restore()
    for ex, attrs in declared:
        if _attrs(ex) != attrs:
            tampered.append(f"exercise {attrs['id']}")
            vars(ex).clear()
            vars(ex).update(attrs)
    reports, errors = [], []
    try:
        for ex, checks in plan:
            reports.append(core.Exercise.run(ex, shell.user_ns, checks=checks).as_dict())
    except Exception as e:  # noqa: BLE001 - the row says so; the result still goes back
        errors.append(f"the grader failed: {type(e).__name__}: {str(e)[:200]}")
    try:
        gs.reset(timeout=1.0)
    except RuntimeError as e:
        cell_errors.append(f"a process could not be stopped: {e}")
    time.sleep(0.05)    # let threads that were told to stop finish
    leaked = sorted(t.name for t in threading.enumerate()
                    if t not in before and t.is_alive() and not t.name.startswith("grading-check"))
    token = stdin.readline().strip()
    out = {"token": token, "notebook": args.stem, "exercises": reports if not errors else None,
           "errors": errors, "cell_errors": cell_errors, "tampered": tampered, "leaked_threads": leaked}
    tmp = result_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, result_path)
    leave(0)


if __name__ == "__main__":
    child()

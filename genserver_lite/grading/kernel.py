"""Execute a submitted notebook top to bottom in its own Jupyter kernel, with time limits.

The gradebook's first look at a submission: does it run? (nbgrader's
"execute" step.) :func:`execute` starts ``python -I -m
genserver_lite.grading.kernel`` in a new session; that process starts a
fresh ``python3`` kernel with jupyter_client and sends it the code cells in
order, as "Run All" does but going on after a cell's error. A cell that
outlives ``cell_timeout`` is interrupted; the run stops when the notebook's
``timeout`` is spent or the kernel dies. It records the errors (a failing
check cell is a score, not an error), never the learner's printed output.
If the runner itself outlives its limit it is killed, and so is its kernel
(whose pid the runner writes to a file as soon as the kernel starts).
(nbclient does the same, but importing it costs a second per notebook.)

Grades do not come from here: :mod:`.sandbox` runs the checks.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

from .sandbox import run_limited

__all__ = ["execute"]

_GRACE = 20.0   # seconds the runner may take beyond the notebook's limit (kernel start and shutdown)


def execute(notebook: pathlib.Path, *, timeout: float, cell_timeout: float) -> dict:
    """Run ``notebook`` in a fresh kernel; returns ``{"status", "errors", "seconds"}``.

    ``status`` is ``"ok"``, ``"errors"`` (some cells raised), ``"timeout"``
    or ``"failed"`` (the kernel died or the runner could not run it).
    """
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gs-run-") as tmp:
        work = pathlib.Path(tmp) / "work"
        work.mkdir()
        result, pidfile = pathlib.Path(tmp) / "result.json", pathlib.Path(tmp) / "kernel.pid"
        run = run_limited([sys.executable, "-I", "-m", __name__, str(notebook), str(result),
                           str(pidfile), "--timeout", str(timeout), "--cell-timeout", str(cell_timeout)],
                          timeout=timeout + _GRACE, cwd=work, also_kill=[pidfile])
        seconds = time.monotonic() - t0
        if run.timed_out:
            return {"status": "timeout", "seconds": seconds,
                    "errors": [f"the notebook run was killed after {timeout + _GRACE:g} s"]}
        try:
            data = json.loads(result.read_text())
        except (OSError, ValueError):
            last = run.stderr.strip().splitlines()[-1:] or ["no message"]
            return {"status": "failed", "seconds": seconds,
                    "errors": [f"the notebook could not be run (exit code {run.returncode}): {last[0][:200]}"]}
    data["seconds"] = seconds
    return data


# -- the runner: runs in its own process ----------------------------------------------------


def _error_text(out) -> str:
    if out.get("ename") == "SystemExit":
        return f"called sys.exit({out.get('evalue', '')})"
    value = (out.get("evalue") or "").strip().splitlines()
    return f"raised {out.get('ename')}" + (f": {value[0][:160]}" if value else "")


def read_cells(path) -> list[tuple[str, str]]:
    """(cell_type, source) of each cell of a notebook file, read as plain JSON (no nbformat: it is slow to import)."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError("no list of cells")
    out = []
    for c in cells:
        src = c.get("source", "") if isinstance(c, dict) else ""
        out.append((c.get("cell_type", "?") if isinstance(c, dict) else "?",
                    "".join(src) if isinstance(src, list) else str(src)))
    return out


class _Stop(Exception):
    """The run cannot go on (kernel dead or deaf); the message says why."""


def _wait_reply(km, kc, msg_id: str, limit: float):
    """The execute_reply to ``msg_id`` within ``limit`` seconds, or None; raises _Stop if the kernel died."""
    from queue import Empty
    end = time.monotonic() + limit
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        try:
            msg = kc.get_shell_msg(timeout=min(0.5, left))
        except Empty:
            if not km.is_alive():
                raise _Stop("died") from None
            continue
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg


def runner(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook")
    ap.add_argument("result")
    ap.add_argument("pidfile")
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--cell-timeout", type=float, required=True)
    args = ap.parse_args(argv)
    from jupyter_client.manager import KernelManager

    code = [src for kind, src in read_cells(args.notebook) if kind == "code"]
    deadline = time.monotonic() + args.timeout
    status, errors = "ok", []
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=os.getcwd())
    kc = None
    try:
        pid = getattr(km.provisioner, "pid", None)
        if pid:
            pathlib.Path(args.pidfile).write_text(str(pid))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=max(1.0, deadline - time.monotonic()))
        for index, source in enumerate(code):
            left = deadline - time.monotonic()
            if left <= 0:
                status = "timeout"
                errors.append(f"the notebook's time limit ({args.timeout:g} s) ran out before cell {index}")
                break
            msg_id = kc.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
            try:
                reply = _wait_reply(km, kc, msg_id, min(args.cell_timeout, left))
                if reply is None:
                    errors.append(f"cell {index} ran longer than {min(args.cell_timeout, left):g} s "
                                  f"and was interrupted")
                    km.interrupt_kernel()
                    if _wait_reply(km, kc, msg_id, min(5.0, args.cell_timeout)) is None:
                        raise _Stop("did not stop when interrupted")
                    continue
            except _Stop as e:
                status = "failed"
                errors.append(f"the kernel {e} at cell {index}" +
                              (" (os._exit? exit()? a crash?)" if str(e) == "died" else ""))
                break
            content = reply.get("content", {})
            if content.get("status") == "error" and content.get("ename") != "GradingFailed":
                errors.append(f"cell {index} {_error_text(content)}")
    except Exception as e:  # noqa: BLE001 - reported in the row, never fatal to the gradebook
        status = "failed"
        errors.append(f"the notebook could not be run: {type(e).__name__}: {str(e)[:200]}")
    finally:
        if kc is not None:
            kc.stop_channels()
        km.shutdown_kernel(now=True)
    if status == "ok" and errors:
        status = "errors"
    pathlib.Path(args.result).write_text(json.dumps({"status": status, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(runner())

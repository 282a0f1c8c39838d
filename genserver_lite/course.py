"""Small conveniences the notebooks use but do not teach.

Nothing here is part of the OTP model; it keeps lessons short and their
output readable.
"""

from __future__ import annotations

import contextlib
import logging
import sys

__all__ = ["quiet_logs", "silenced", "child_pids", "crash_child", "restarted"]


class _OneLine(logging.Formatter):
    """A crash report cut to its first lines: who crashed and why, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        lines = record.getMessage().splitlines()
        head = lines[0] if lines else ""
        reason = next((ln for ln in lines if ln.startswith("** Reason")), "")
        text = f"{record.levelname}: {head}" + (f" | {reason[3:]}" if reason else "")
        return text


def quiet_logs(level: int = logging.WARNING, tracebacks: bool = False) -> None:
    """Show genserver_lite's crash reports on stderr, one line each (set ``tracebacks=True`` for the full report).

    Crash reports are how OTP tells you a process died; in a lesson that
    crashes things on purpose, one line each is enough.
    """
    logger = logging.getLogger("genserver_lite")
    for h in list(logger.handlers):
        if getattr(h, "_gs_course", False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._gs_course = True
    if not tracebacks:
        handler.setFormatter(_OneLine())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


@contextlib.contextmanager
def silenced():
    """Hide genserver_lite's crash reports inside the block (a demo that crashes hundreds of times)."""
    logger = logging.getLogger("genserver_lite")
    old = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(old)


def child_pids(sup) -> dict:
    """``{child id: pid}`` of a supervisor's children, in start order (None for a stopped child).

    Runs in the caller: one ``which_children`` call to the supervisor.
    """
    from .supervisor import Supervisor
    return {cid: pid for cid, pid, _type, _modules in Supervisor.which_children(sup)}


def crash_child(sup, child, reason="injected crash", *, kill: bool = False, timeout: float = 5.0) -> None:
    """Crash one child of a supervisor and return once the supervisor has dealt with the crash.

    ``child`` is a child id (or a child's pid). The child crashes inside its
    loop through ``gs.testing.crash`` (``terminate`` runs, the crash is
    logged), or, with ``kill=True``, is killed from outside with
    ``gs.exit(pid, "kill")``. Then the caller waits for the child's DOWN and
    asks the supervisor a question: the supervisor got the child's EXIT
    before the caller got the DOWN (links fire before monitors), so its
    answer comes after it restarted what its strategy restarts. If the
    supervisor gave up instead (restart intensity), it is gone and this
    returns all the same. (A restart whose start function fails is retried
    later, by a message the supervisor sends itself: that retry may still be
    pending.)

    Raises:
        LookupError: the supervisor has no running child with that id.
    """
    from ._kernel import Pid
    from .errors import Exit
    from .process import exit as exit_signal, monitor, receive
    from .supervisor import Supervisor
    from .testing import crash
    if type(child) is Pid:
        pid = child
    else:
        pid = child_pids(sup).get(child)
        if type(pid) is not Pid:
            raise LookupError(f"crash_child: supervisor {sup!r} has no running child with id {child!r}")
    ref = monitor(pid)
    if kill:
        exit_signal(pid, "kill")
    else:
        try:
            crash(pid, reason)
        except Exit:        # it died before it took the crash: the DOWN below still comes
            pass
    receive(lambda m: type(m) is tuple and len(m) == 5 and m[0] == "DOWN" and m[1] is ref, timeout)
    try:
        Supervisor.which_children(sup)      # a barrier: answered after the EXIT was handled
    except Exit:
        pass                                # the supervisor gave up and exited


def restarted(before: dict, after: dict) -> str:
    """Which children got a new pid between two :func:`child_pids` snapshots, in words.

    ``"a kept, b restarted, c restarted"``: names, never pids, so a lesson's
    output is the same on every run. A child no longer listed is ``gone``, one
    listed without a pid is ``stopped``, one whose restart is pending ``restarting``.
    """
    words = []
    for cid, old in before.items():
        name = getattr(cid, "__name__", cid)
        if cid not in after:
            words.append(f"{name} gone")
        elif after[cid] is None:
            words.append(f"{name} stopped")
        elif after[cid] == "restarting":
            words.append(f"{name} restarting")
        else:
            words.append(f"{name} {'kept' if after[cid] is old else 'restarted'}")
    return ", ".join(words)

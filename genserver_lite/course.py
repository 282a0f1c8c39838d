"""Small conveniences the notebooks use but do not teach.

Nothing here is part of the OTP model; it keeps lessons short and their
output readable.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["quiet_logs"]


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

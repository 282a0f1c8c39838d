"""Probes for exercise checks: the client API with short timeouts and failures a learner can read.

A check written with ``gs.call`` directly fails with ``CallTimeout`` or
``Exit(...)``; written with these probes it fails with a sentence about the
learner's server (ExUnit's ``assert`` messages play this part in Elixir)::

    pid = probes.start(ns["Stack"], [1])
    probes.cast(pid, ("push", 2))
    probes.expect(probes.call(pid, "pop"), 2, "pop after push(2)")

Every probe runs in the check's thread (a shell process). Each waits at most
:data:`TIMEOUT` seconds, so a server that never replies fails the check
fast, well inside the exercise's budget. The original exception stays on
``__cause__``, so a ``NotImplementedError`` from a stub is still reported as
"not implemented yet".
"""

from __future__ import annotations

from .. import gen, sys as gsys
from ..errors import CallTimeout, Exit, NoProc, ReceiveTimeout, StartError
from ..process import alive as _alive, receive as _receive

__all__ = ["TIMEOUT", "start", "call", "cast", "state", "alive", "down", "expect", "reason_text"]

TIMEOUT = 1.0   # seconds a probe waits for a learner's server


def reason_text(reason) -> str:
    """An exit reason in one short line: ``ValueError: not enough values to unpack``."""
    if isinstance(reason, BaseException):
        text = str(reason).splitlines()[0] if str(reason) else ""
        return f"{type(reason).__name__}: {text}" if text else type(reason).__name__
    return repr(reason)


def start(cls, arg=None, **options):
    """``cls.start(arg, **options)`` (unlinked, so a crash does not reach the check); returns the Pid.

    Raises:
        AssertionError: ``cls`` is not a GenServer class, or its init failed.
    """
    starter = getattr(cls, "start", None)
    if not isinstance(cls, type) or not callable(starter):
        raise AssertionError(f"expected a GenServer class, got {cls!r}")
    options.setdefault("timeout", TIMEOUT)
    try:
        return starter(arg, **options)
    except StartError as e:
        raise AssertionError(f"{cls.__name__}.start_link({arg!r}) failed: "
                             f"{reason_text(e.reason)}") from e


def call(server, request, timeout: float = TIMEOUT):
    """``gs.call`` that fails the check with a sentence: no reply, not alive, or crashed on ``request``."""
    try:
        return gen.call(server, request, timeout=timeout)
    except CallTimeout as e:
        raise AssertionError(f"call {request!r} got no reply within {timeout:g} s (does handle_call "
                             f"return ('reply', value, state), or, for a deferred reply, does "
                             f"someone call gs.reply(from_, value)?)") from e
    except NoProc as e:
        raise AssertionError(f"call {request!r}: the server is not alive (did an earlier message "
                             f"crash it?)") from e
    except Exit as e:
        raise AssertionError(f"the server crashed handling call {request!r}: "
                             f"{reason_text(e.reason)}") from e


def cast(server, request) -> None:
    """``gs.cast`` (it never fails: a crash shows at the next call)."""
    gen.cast(server, request)


def state(server, timeout: float = TIMEOUT):
    """The server's state through ``gs.sys.get_state``, which queues behind the messages sent before."""
    try:
        return gsys.get_state(server, timeout=timeout)
    except CallTimeout as e:
        raise AssertionError(f"the server did not answer gs.sys.get_state within {timeout:g} s "
                             f"(is a callback blocked?)") from e
    except Exit as e:
        reason = "it is not alive" if isinstance(e, NoProc) else f"it crashed: {reason_text(e.reason)}"
        raise AssertionError(f"could not read the server's state: {reason}") from e


def alive(pid) -> bool:
    """Whether the process is alive (``Process.alive?``)."""
    return _alive(pid)


def down(ref, what: str, timeout: float = TIMEOUT):
    """The exit reason in the DOWN of monitor ``ref``; fails the check with "``what`` was still running"
    if it has not come within ``timeout`` seconds."""
    try:
        return _receive(lambda m: type(m) is tuple and len(m) == 5 and m[:2] == ("DOWN", ref),
                        timeout=timeout)[4]
    except ReceiveTimeout:
        raise AssertionError(f"{what} was still running {timeout:g} s later") from None


def expect(actual, expected, what: str):
    """Fail the check with ``what: got X, expected Y`` unless ``actual == expected``; returns ``actual``."""
    if actual != expected:
        raise AssertionError(f"{what}: got {actual!r}, expected {expected!r}")
    return actual

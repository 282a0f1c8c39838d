"""System messages: look inside a running server and upgrade it (OTP ``sys``; public name ``gs.sys``).

Every function here sends a *system message*. It queues behind the server's
other messages, so it is also a barrier: ``gs.sys.get_state(server)`` after a
``gs.cast`` sees the cast's effect, which is how tests wait for a cast
without sleeping.

A suspended server handles only system messages; everything else waits in
its mailbox, in order, until :func:`resume`. That is the window for a hot
code upgrade: ``suspend``, ``change_code``, ``resume``, exactly the steps of
an OTP release upgrade.
"""

from __future__ import annotations

from . import gen
from .errors import Exit

__all__ = ["get_state", "replace_state", "suspend", "resume", "change_code", "get_status"]


def _sys(server, req, timeout):
    kind, value = gen.request(server, "$system", req, timeout, "system")
    if kind == "ok":
        return value
    raise Exit(value, f"system request {req!r} to {server!r} failed: {value!r}")


def get_state(server, timeout: float | None = 5.0):
    """The server's current state (OTP ``sys:get_state/2``)."""
    return _sys(server, "get_state", timeout)


def replace_state(server, fn, timeout: float | None = 5.0):
    """Replace the state with ``fn(state)``, run inside the server; returns the new state (OTP ``sys:replace_state/3``).

    If ``fn`` raises, the state is unchanged and this raises :class:`Exit`
    with reason ``("callback_failed", exception)``.
    """
    if not callable(fn):
        raise TypeError(f"replace_state needs a function of the state, got {fn!r}")
    return _sys(server, ("replace_state", fn), timeout)


def suspend(server, timeout: float | None = 5.0) -> None:
    """Suspend the server: it answers only system messages until resumed (OTP ``sys:suspend/2``)."""
    _sys(server, "suspend", timeout)


def resume(server, timeout: float | None = 5.0) -> None:
    """Resume a suspended server (OTP ``sys:resume/2``)."""
    _sys(server, "resume", timeout)


def change_code(server, new_cls, old_vsn, extra=None, timeout: float | None = 5.0) -> None:
    """Hot upgrade: run ``new_cls().code_change(old_vsn, state, extra)`` in the server and swap its callbacks.

    OTP ``sys:change_code/4``: the server must be suspended (otherwise this
    raises :class:`Exit` with reason ``("not_suspended", ...)``). If
    ``code_change`` returns ``("error", reason)`` or raises, the server keeps
    its old code and state and this raises :class:`Exit`.
    """
    if not isinstance(new_cls, type):
        raise TypeError(f"change_code needs the new GenServer class, got {new_cls!r}")
    _sys(server, ("change_code", new_cls, old_vsn, extra), timeout)


def get_status(server, timeout: float | None = 5.0) -> dict:
    """A snapshot: pid, name, module (class), vsn, state, parent and running/suspended (OTP ``sys:get_status/1``)."""
    return _sys(server, "get_status", timeout)

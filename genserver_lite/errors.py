"""The exceptions of genserver_lite, and how they map to OTP's exits and errors.

In Erlang a failure is an *exit reason*: any term. Here a reason is any Python
object (a string such as ``"normal"`` or ``"shutdown"``, a tuple, or the
exception that crashed a process). When a failure has to reach Python code as
an exception, it travels as :class:`Exit`, which carries the reason on
``.reason``. The other exceptions are the client-side errors of the API.
"""

from __future__ import annotations

__all__ = [
    "Exit",
    "NoProc",
    "CallTimeout",
    "ReceiveTimeout",
    "StartError",
    "ChildSpecError",
    "AlreadyRegistered",
]


class Exit(Exception):
    """An exit, as OTP's ``exit(Reason)``.

    ``raise gs.Exit(reason)`` inside a process ends it with ``reason`` (OTP's
    ``exit/1``). A client function raises it when the process it waits on
    exits: for example a ``gs.call`` whose server crashes while handling the
    request raises ``Exit`` with the server's reason.

    Attributes:
        reason: the exit reason, any object.
    """

    def __init__(self, reason, message: str | None = None):
        self.reason = reason
        super().__init__(message if message is not None else f"exit with reason {reason!r}")


class NoProc(Exit):
    """The process or name does not exist (OTP's ``noproc`` exit).

    Raised by ``gs.call``, ``gs.stop`` and ``gs.send`` to an unknown name.
    ``.reason`` is ``"noproc"``.
    """

    def __init__(self, server, message: str | None = None):
        self.server = server
        super().__init__("noproc", message or f"no process is alive or registered as {server!r}")


class CallTimeout(Exit, TimeoutError):
    """A call got no reply in time (OTP exits the caller with ``{timeout, ...}``).

    It is both an :class:`Exit` (reason ``"timeout"``) and a ``TimeoutError``,
    so ``except TimeoutError`` catches it, as a Python programmer expects.
    """

    def __init__(self, server, timeout, message: str | None = None):
        self.server = server
        self.timeout = timeout
        super().__init__("timeout", message or f"call to {server!r} got no reply within {timeout} s")


class ReceiveTimeout(TimeoutError):
    """``gs.receive(timeout=...)`` found no matching message in time (OTP's ``after`` clause)."""


class StartError(Exception):
    """Starting a process failed (OTP's ``{:error, reason}`` from ``start_link``).

    Attributes:
        reason: why: the reason ``init`` stopped with, the exception it raised,
            ``("already_started", pid)``, ``"timeout"``, ...
    """

    def __init__(self, reason, message: str | None = None):
        self.reason = reason
        super().__init__(message or f"start failed: {reason!r}")


class ChildSpecError(ValueError):
    """A supervisor child specification is malformed; the message names the child and the field."""


class AlreadyRegistered(ValueError):
    """A unique Registry key is already taken (Elixir's ``{:error, {:already_registered, pid}}``).

    Attributes:
        key: the key.
        pid: the process that holds it.
    """

    def __init__(self, key, pid, message: str | None = None):
        self.key = key
        self.pid = pid
        super().__init__(message or f"key {key!r} is already registered by {pid!r}")

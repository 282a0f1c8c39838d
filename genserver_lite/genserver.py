"""GenServer: a process that keeps state and serves requests (OTP ``gen_server``, Elixir ``GenServer``).

Subclass :class:`GenServer` and write callbacks; the loop, the protocol and
the error handling are generic. State is passed in and returned, never kept
on ``self``, so a callback reads like an Elixir function clause::

    class Stack(gs.GenServer):
        def init(self, items):
            return ("ok", list(items))

        def handle_call(self, request, from_, state):
            match request:
                case "pop":
                    head, *rest = state
                    return ("reply", head, rest)

Callbacks and what they may return (any other value stops the server with
reason ``("bad_return_value", value)``):

==========================================  ==========================================================
callback                                    returns
==========================================  ==========================================================
``init(self, arg)``                         ``("ok", state)``, ``("ok", state, extra)``, ``"ignore"``,
                                            ``("stop", reason)``
``handle_call(self, request, from_, s)``    ``("reply", value, s[, extra])``, ``("noreply", s[, extra])``,
                                            ``("stop", reason, value, s)``, ``("stop", reason, s)``
``handle_cast(self, request, s)``           ``("noreply", s[, extra])``, ``("stop", reason, s)``
``handle_info(self, msg, s)``               same as handle_cast
``handle_continue(self, c, s)``             same as handle_cast
``terminate(self, reason, s)``              ignored
``code_change(self, old_vsn, s, extra)``    ``("ok", s)``, ``("error", reason)``
==========================================  ==========================================================

``extra`` is a timeout in seconds (if no message comes in that time,
``handle_info("timeout", s)`` runs), ``"hibernate"``, or ``("continue", c)``
(``handle_continue(c, s)`` runs before any other message). ``None`` means no
timeout. Idle timeouts are timers, so ``gs.testing.FakeClock`` drives them.
``"hibernate"`` is accepted and does nothing more: a Python thread cannot
shed its stack as a BEAM process does.

``terminate`` runs, as in OTP, when a callback returns ``stop``, when a
callback raises (the exception is the reason), when ``gs.stop`` asks, and
when the parent (the process that called ``start_link``) sends an exit
signal to a server that traps exits. It never runs on ``"kill"``, nor on an
exit signal that a non-trapping server does not survive.

A crash is logged on the ``genserver_lite`` logger the way OTP's error report
reads: the server, the last message, the state, and the reason with its
traceback. ``"normal"``, ``"shutdown"`` and ``("shutdown", term)`` are not
crashes and are not logged.
"""

from __future__ import annotations

import logging
import reprlib

from . import _kernel as k
from . import gen
from ._kernel import Killed, Pid, check_alive, current
from .errors import Exit
from .process import take
from .timer import cancel_timer, send_after

__all__ = ["GenServer", "is_normal_exit", "start_server"]

_show = reprlib.Repr()
_show.maxstring, _show.maxother, _show.maxlist, _show.maxdict, _show.maxlevel = 200, 200, 20, 20, 4


def is_normal_exit(reason) -> bool:
    """``"normal"``, ``"shutdown"`` or ``("shutdown", term)``: an exit that is not a crash."""
    if type(reason) is str:
        return reason == "normal" or reason == "shutdown"
    return type(reason) is tuple and len(reason) == 2 and reason[0] == "shutdown"


class GenServer:
    """Base class of a generic server; see the module docstring for the callbacks.

    Class attributes shape :meth:`child_spec`: ``restart`` ("permanent",
    "transient" or "temporary"), ``shutdown`` (seconds, "brutal_kill" or
    "infinity") and ``vsn`` (the code version that ``gs.sys.change_code``
    reports to ``code_change``).
    """

    restart = "permanent"
    shutdown = 5.0
    vsn = None
    child_type = "worker"
    behaviour_name = "GenServer"

    # -- client side -----------------------------------------------------------

    @classmethod
    def start_link(cls, arg=None, *, name=None, timeout: float | None = 5.0) -> Pid | None:
        """Start a server linked to the caller and wait for ``init`` (OTP ``gen_server:start_link/4``).

        Returns its Pid, or None if ``init`` returned ``"ignore"``.

        Raises:
            StartError: ``init`` returned ``("stop", reason)`` or raised (``.reason``),
                the name is taken (``("already_started", pid)``), or ``init``
                outlived ``timeout`` (``"timeout"``).
        """
        return start_server(cls, arg, name=name, timeout=timeout, link=True)

    @classmethod
    def start(cls, arg=None, *, name=None, timeout: float | None = 5.0) -> Pid | None:
        """Like :meth:`start_link` without the link (OTP ``gen_server:start/4``)."""
        return start_server(cls, arg, name=name, timeout=timeout, link=False)

    @classmethod
    def child_spec(cls, arg=None) -> dict:
        """How a supervisor starts this class (Elixir's generated ``child_spec/1``)."""
        return {"id": cls, "start": (cls.start_link, (arg,)), "restart": cls.restart,
                "shutdown": cls.shutdown, "type": cls.child_type}

    # -- default callbacks, as Elixir's ``use GenServer`` ------------------------

    def handle_call(self, request, from_, state):
        """Default: crash, naming the request (Elixir raises the same way)."""
        raise RuntimeError(f"attempted to call {type(self).__name__} with {request!r} but no "
                           f"handle_call clause matched it")

    def handle_cast(self, request, state):
        """Default: crash, naming the request."""
        raise RuntimeError(f"attempted to cast {type(self).__name__} with {request!r} but no "
                           f"handle_cast clause matched it")

    def handle_info(self, msg, state):
        """Default: log the unexpected message as a warning and carry on."""
        k.log.warning("%s %r received an unexpected message in handle_info: %s",
                      type(self).__name__, current().pid, _show.repr(msg))
        return ("noreply", state)

    def handle_continue(self, continue_arg, state):
        """Default: crash; a server that returns ``("continue", c)`` must define it."""
        raise RuntimeError(f"{type(self).__name__} returned ('continue', {continue_arg!r}) but "
                           f"defines no handle_continue")

    def terminate(self, reason, state):
        """Default: nothing to clean up."""
        return None

    def code_change(self, old_vsn, state, extra):
        """Default: keep the state as it is."""
        return ("ok", state)


def start_server(cls, arg, *, name, timeout, link: bool, label: str | None = None,
                 behaviour: str | None = None) -> Pid | None:
    """Start a process running the GenServer class ``cls`` (the start path every behaviour shares).

    Supervisor, DynamicSupervisor, Registry and TaskSupervisor run their own
    GenServer class under the user's ``label`` (shown by ``gs.info`` and traces).
    """
    return gen.start(_Server.enter, (cls, arg, link), name=name, timeout=timeout, link=link,
                     label=label or cls.__name__, behaviour=behaviour or cls.behaviour_name)


# -- the server loop (runs in the server's own process) ----------------------------

_TIMEOUT_NOW = object()


class _IdleTimeout:
    """The private message an idle-timeout timer sends; only the newest one counts."""
    __slots__ = ()


def _is_system(m) -> bool:
    return type(m) is tuple and len(m) == 3 and m[0] == "$system"


class _Server:
    __slots__ = ("me", "mod", "state", "parent", "pending", "idle", "idle_ref", "suspended")

    def __init__(self, me: k.Process, parent: Pid):
        self.me = me
        self.mod = None
        self.state = None
        self.parent = parent
        self.pending = None      # ("continue", c) or _TIMEOUT_NOW: runs before the next message
        self.idle = None         # the _IdleTimeout we wait for, if any
        self.idle_ref = None
        self.suspended = False

    @staticmethod
    def enter(starter: Pid, tag, cls, arg, linked: bool) -> None:
        me = current()
        srv = _Server(me, starter if linked else me.pid)
        r = srv.init(starter, tag, cls, arg)
        gen.init_ack(starter, tag)
        srv.after(r[2] if len(r) == 3 else None)
        srv.loop()

    def init(self, starter, tag, cls, arg):
        try:
            self.mod = cls()
            if not callable(getattr(self.mod, "init", None)):
                raise TypeError(f"{cls.__name__} defines no init(self, arg): a GenServer must say how "
                                f"its state starts, e.g. return ('ok', arg)")
            r = self.mod.init(arg)
        except Killed:
            raise
        except Exit as e:
            gen.init_fail(starter, tag, e.reason)
        except BaseException as e:  # noqa: BLE001 - any crash in init is a failed start
            self.report("(init)", e, None, e)
            gen.init_fail(starter, tag, e)
        if type(r) is tuple and len(r) in (2, 3) and r[0] == "ok" and (len(r) == 2 or _extra_ok(r[2])):
            self.state = r[1]
            return r
        if type(r) is str and r == "ignore":
            gen.init_fail(starter, tag, "normal", ignore=True)
        if type(r) is tuple and len(r) == 2 and r[0] == "stop":
            gen.init_fail(starter, tag, r[1])
        reason = ("bad_return_value", r)
        self.report("(init)", reason, None, None, "init")
        gen.init_fail(starter, tag, reason)

    def loop(self) -> None:
        me = self.me
        q, saved, WAKE = me.q, me.saved, k._WAKE
        while True:
            if self.pending is not None:
                self.run_pending()
                continue
            if self.suspended:
                self.system(take(me, _is_system, None, me.pid))
                continue
            if saved:
                msg = saved.popleft()
            elif q.empty():                 # idle: gs.info says "waiting" until a message comes
                me.status = "waiting"
                msg = q.get()
                me.status = "running"
            else:
                msg = q.get()
            if msg is WAKE or not me.alive:     # killed, even if Python lost the kill's exception
                check_alive(me)
                continue
            if k._tracer is not None:
                k._tracer("receive", me.pid, me.pid, msg)   # peer=self: the loop took it for a callback
            if self.idle is not None:
                if msg is self.idle:
                    self.idle = self.idle_ref = None
                    self.callback("info", self.mod.handle_info, ("timeout", self.state), msg)
                    continue
                if not _is_system(msg) and type(msg) is not _IdleTimeout:
                    cancel_timer(self.idle_ref)
                    self.idle = self.idle_ref = None
            if msg.__class__ is tuple and len(msg) >= 2:
                tag = msg[0]
                if tag == "$gen_call" and len(msg) == 3:
                    from_ = msg[1]
                    try:
                        r = self.mod.handle_call(msg[2], from_, self.state)
                    except Killed:
                        raise
                    except BaseException as e:  # noqa: BLE001 - a crash is the exit reason
                        self.crashed(e, msg)
                    if r.__class__ is tuple and len(r) == 3 and r[0] == "reply":
                        self.state = r[2]     # reply last: the caller runs once we block again
                        caller = from_[0]._proc
                        if me.alive and caller.aliases.pop(from_[1], None) is not None and caller.alive:
                            answer = (from_[1], r[1])
                            if k._tracer is not None:     # before the put: send precedes receive
                                k._tracer("send", me.pid, caller.pid, (answer, "reply"))
                            caller.q.put(answer)
                        elif k._tracer is not None:
                            gen.trace_dropped_reply(me.pid, from_, r[1])
                    else:
                        self.handled(r, "call", msg, from_)
                    continue
                if tag == "$gen_cast" and len(msg) == 2:
                    try:
                        r = self.mod.handle_cast(msg[1], self.state)
                    except Killed:
                        raise
                    except BaseException as e:  # noqa: BLE001
                        self.crashed(e, msg)
                    if r.__class__ is tuple and len(r) == 2 and r[0] == "noreply":
                        self.state = r[1]
                    else:
                        self.handled(r, "cast", msg)
                    continue
                if tag == "$system" and len(msg) == 3:
                    self.system(msg)
                    continue
                if tag == "EXIT" and len(msg) == 3 and msg[1] is self.parent:
                    self.terminate(msg[2], msg)
            if type(msg) is _IdleTimeout:
                continue    # a stale idle timeout that lost the race with a real message
            self.callback("info", self.mod.handle_info, (msg, self.state), msg)

    # -- return values ------------------------------------------------------------

    def callback(self, what: str, fn, args, msg) -> None:
        try:
            r = fn(*args)
        except Killed:
            raise
        except BaseException as e:  # noqa: BLE001
            self.crashed(e, msg)
        self.handled(r, what, msg)

    def handled(self, r, what: str, msg, from_=None) -> None:
        """Apply a callback's return value (anything unknown is ``bad_return_value``)."""
        if type(r) is tuple and r:
            tag, n = r[0], len(r)
            if tag == "noreply" and n in (2, 3) and (n == 2 or _extra_ok(r[2])):
                self.state = r[1]
                return self.after(r[2] if n == 3 else None)
            if tag == "reply" and what == "call" and n in (3, 4) and (n == 3 or _extra_ok(r[3])):
                gen.send_reply(self.me.pid, from_, r[1])
                self.state = r[2]
                return self.after(r[3] if n == 4 else None)
            if tag == "stop" and n == 4 and what == "call":
                self.state = r[3]
                self.terminate(r[1], msg, reply=(from_, r[2]))
            if tag == "stop" and n == 3:
                self.state = r[2]
                self.terminate(r[1], msg)
        self.terminate(("bad_return_value", r), msg, hint="handle_" + what)

    def after(self, extra) -> None:
        if extra is None or extra == "hibernate" or extra == "infinity":
            return
        if type(extra) is tuple:
            self.pending = extra
        elif extra == 0:
            self.pending = _TIMEOUT_NOW
        else:
            self.idle = _IdleTimeout()
            self.idle_ref = send_after(self.me.pid, self.idle, extra)

    def run_pending(self) -> None:
        pending, self.pending = self.pending, None
        if pending is _TIMEOUT_NOW:
            if not self.me.saved and self.me.q.empty():
                self.callback("info", self.mod.handle_info, ("timeout", self.state), "timeout")
        else:
            self.callback("continue", self.mod.handle_continue, (pending[1], self.state), pending)

    # -- system messages (gs.sys) ---------------------------------------------------

    def system(self, msg) -> None:
        _, from_, req = msg
        out = ("ok", None)
        match req:
            case "get_state":
                out = ("ok", self.state)
            case ("replace_state", fn):
                try:
                    self.state = fn(self.state)
                    out = ("ok", self.state)
                except Killed:
                    raise
                except BaseException as e:  # noqa: BLE001 - reported to the caller, as OTP
                    out = ("error", ("callback_failed", e))
            case "suspend":
                self.suspended = True
                self.me.status = "suspended"
            case "resume":
                self.suspended = False
                self.me.status = "running"
            case ("change_code", new_cls, old_vsn, extra):
                out = self.change_code(new_cls, old_vsn, extra)
            case ("terminate", reason):
                self.terminate(reason, msg)
            case ("crash", reason):      # gs.testing.crash: fault injection for lessons and tests
                if from_ is not None:
                    gen.send_reply(self.me.pid, from_, ("ok", None))
                self.crashed(reason if isinstance(reason, BaseException) else Exit(reason), msg)
            case "get_status":
                out = ("ok", {"pid": self.me.pid, "name": self.me.name, "module": type(self.mod),
                              "vsn": type(self.mod).vsn, "state": self.state, "parent": self.parent,
                              "status": "suspended" if self.suspended else "running"})
            case _:
                out = ("error", ("unknown_system_msg", req))
        if from_ is not None:
            gen.send_reply(self.me.pid, from_, out)

    def change_code(self, new_cls, old_vsn, extra):
        """OTP's order: an upgrade runs the new code's ``code_change``; a downgrade
        (``old_vsn`` is ``("down", vsn)``) runs the running code's, which knows both
        shapes of the state, before the old code takes over."""
        if not self.suspended:
            return ("error", ("not_suspended", "suspend the server with gs.sys.suspend before change_code"))
        try:
            new_mod = new_cls()
            down = type(old_vsn) is tuple and len(old_vsn) == 2 and old_vsn[0] == "down"
            r = (self.mod if down else new_mod).code_change(old_vsn, self.state, extra)
        except Killed:
            raise
        except BaseException as e:  # noqa: BLE001 - the upgrade fails, the server lives on (OTP)
            return ("error", ("code_change_failed", e))
        if type(r) is tuple and len(r) == 2 and r[0] == "ok":
            self.mod, self.state = new_mod, r[1]
            self.me.label = new_cls.__name__
            return ("ok", None)
        if type(r) is tuple and len(r) == 2 and r[0] == "error":
            return ("error", r[1])
        return ("error", ("bad_return_value", r))

    # -- stopping ---------------------------------------------------------------------

    def crashed(self, e: BaseException, msg):
        if isinstance(e, Exit):
            self.terminate(e.reason, msg)
        self.terminate(e, msg, exc=e)

    def terminate(self, reason, msg, exc=None, reply=None, hint=None):
        """Run ``terminate``, send a pending stop reply, log a crash, and exit with ``reason``."""
        try:
            self.mod.terminate(reason, self.state)
        except Killed:
            raise
        except Exit as e:
            reason, exc = e.reason, None
        except BaseException as e:  # noqa: BLE001 - a crash in terminate becomes the reason (OTP)
            reason, exc = e, e
        finally:
            if reply is not None:
                gen.send_reply(self.me.pid, reply[0], reply[1])
        if not is_normal_exit(reason):
            self.report(msg, reason, self.state, exc, hint)
        raise Exit(reason)

    def report(self, msg, reason, state, exc, hint=None) -> None:
        if not k.log.isEnabledFor(logging.ERROR):
            return                  # nothing would be written: do not build it (a restart's hot path)
        me = self.me
        who = f"{me.name!r} ({me.pid!r}, {me.label})" if me.name else f"{me.pid!r} ({me.label})"
        lines = [f"{me.behaviour or 'GenServer'} {who} terminating",
                 f"** Last message: {_show.repr(msg)}",
                 f"** State: {_show.repr(state)}",
                 f"** Reason: {_show.repr(reason)}"]
        if type(reason) is tuple and len(reason) == 2 and reason[0] == "bad_return_value":
            lines.append(f"** {hint} returned {_show.repr(reason[1])}, which is not one of its "
                         f"return shapes" + (" (did a match statement fall through every case?)"
                                             if reason[1] is None else ""))
        k.log.error("\n".join(lines), exc_info=(type(exc), exc, exc.__traceback__) if exc else None)


def _extra_ok(extra) -> bool:
    if extra is None or extra == "hibernate" or extra == "infinity":
        return True
    if type(extra) is tuple:
        return len(extra) == 2 and extra[0] == "continue"
    return isinstance(extra, (int, float)) and not isinstance(extra, bool) and extra >= 0

"""Labels: a short readable form of each message, process and exit reason (Kino.Process prints raw terms).

A sequence diagram is only as readable as its labels. A message such as
``("$gen_call", (pid, ref), ("push", 2))`` is shown as ``call push(2)``; its
answer ``(ref, 2)`` as ``reply 2``. The rules, by kind:

===========  ==========================================  =====================
kind         message                                     label
===========  ==========================================  =====================
call         ``("$gen_call", from_, "pop")``              ``call pop``
cast         ``("$gen_cast", ("push", 2))``               ``cast push(2)``
reply        ``(ref, 2)``                                 ``reply 2``
info         ``"tick"`` / ``("tick", 3)``                 ``info :tick`` / ``info tick(3)``
timer        the same, sent by ``send_after``             ``timer :tick``
system       ``gs.sys`` requests, start acks              ``sys get_state``, ``ack ok``
exit         ``("EXIT", pid, "boom")``                    ``EXIT boom``
down         ``("DOWN", ref, "process", pid, "normal")``  ``DOWN normal``
===========  ==========================================  =====================

A request is shown as Elixir reads it: a bare string is the request's name
(``pop``), a tuple with a string head is ``head(args)``. A bare string sent as
a plain message is shown like an atom, ``:tick``. Values are Python reprs,
shortened; pids are shown by the name the trace gives them (never ``<0.42.0>``,
which changes from run to run), refs as ``#Ref``. Labels longer than
:data:`WIDTH` characters are cut with ``...``.
"""

from __future__ import annotations

import reprlib

from .._kernel import Pid, Ref

__all__ = ["WIDTH", "classify", "message_label", "reason_text", "term", "truncate",
           "process_label"]

WIDTH = 30          # the longest label, in characters

KINDS = ("call", "reply", "cast", "info", "timer", "system", "exit", "down")


def truncate(text: str, width: int = WIDTH) -> str:
    """``text`` cut to ``width`` characters, ending in ``...`` when cut."""
    text = " ".join(str(text).split())      # one line: newlines would break a diagram
    if len(text) <= width:
        return text
    return text[:max(1, width - 3)].rstrip() + "..."


class _Short(reprlib.Repr):
    """reprlib with small limits, pids by their trace name, refs and exceptions short."""

    def __init__(self, name_of=None):
        super().__init__()
        self.maxstring, self.maxother, self.maxlevel = 18, 18, 3
        self.maxtuple = self.maxlist = self.maxset = self.maxfrozenset = self.maxdeque = 4
        self.maxdict = 3
        self.name_of = name_of

    def repr1(self, x, level):
        if type(x) is Pid:
            return self.name_of(x) if self.name_of is not None else "pid"
        if type(x) is Ref:
            return "#Ref"
        if isinstance(x, BaseException):
            return exception_text(x)
        if isinstance(x, type):
            return x.__name__
        tname = type(x).__name__
        if tname == "TimerRef":
            return "#TimerRef"
        if callable(x) and hasattr(x, "__qualname__"):
            return x.__qualname__.rsplit(".", 1)[-1]
        return super().repr1(x, level)


def exception_text(e: BaseException) -> str:
    """``RuntimeError: boom`` for an exception; an Exit shows its reason."""
    from ..errors import Exit
    if isinstance(e, Exit) and type(e).__name__ == "Exit":
        return reason_text(e.reason)
    msg = str(e)
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def term(value, name_of=None) -> str:
    """A short Python repr of ``value``; pids by ``name_of(pid)``, refs as ``#Ref``."""
    return _Short(name_of).repr(value)


def reason_text(reason, name_of=None) -> str:
    """An exit reason: a string as is (``boom``), an exception as ``Type: message``."""
    if type(reason) is str:
        return reason
    if isinstance(reason, BaseException):
        return exception_text(reason)
    if type(reason) is tuple and reason and type(reason[0]) is str:
        return head_form(reason, name_of)
    return term(reason, name_of)


def head_form(request, name_of=None) -> str:
    """A request as Elixir reads it: ``pop`` for a string, ``push(2)`` for ``("push", 2)``."""
    if type(request) is str:
        return request
    if type(request) is tuple and request and type(request[0]) is str:
        if len(request) == 1:
            return f"{request[0]}()"
        return f"{request[0]}({', '.join(term(a, name_of) for a in request[1:])})"
    return term(request, name_of)


def info_form(msg, name_of=None) -> str:
    """A plain message: ``:tick`` for a bare string (an atom in Elixir), else as a request."""
    if type(msg) is str:
        return f":{msg}" if msg.isidentifier() else repr(msg)
    if type(msg).__name__ == "_IdleTimeout":
        return "timeout"
    return head_form(msg, name_of)


def classify(msg, kind: str | None) -> str:
    """The kind of a traced message: the runtime's own kind, or read from its shape for ``gs.send``."""
    if kind is not None:
        return kind
    if type(msg) is tuple and msg:
        tag = msg[0]
        if tag == "$gen_call" and len(msg) == 3:
            return "call"
        if tag == "$gen_cast" and len(msg) == 2:
            return "cast"
        if tag == "$system" or tag == "$ack":
            return "system"
        if tag == "EXIT" and len(msg) == 3:
            return "exit"
        if tag == "DOWN" and len(msg) == 5:
            return "down"
    return "info"


def message_label(msg, kind: str, name_of=None, *, result: bool = False, width: int = WIDTH) -> str:
    """The label of one message of the given kind (see the module docstring).

    ``result=True`` marks a reply that carries a Task's result (``result 42``).
    """
    return truncate(_label(msg, kind, name_of, result), width)


def _label(msg, kind, name_of, result) -> str:
    t = type(msg) is tuple
    if kind == "call" and t and len(msg) == 3:
        return f"call {head_form(msg[2], name_of)}"
    if kind == "cast" and t and len(msg) == 2:
        return f"cast {head_form(msg[1], name_of)}"
    if kind == "reply" and t and len(msg) == 2:
        return f"{'result' if result else 'reply'} {term(msg[1], name_of)}"
    if kind == "exit" and t and len(msg) == 3:
        return f"EXIT {reason_text(msg[2], name_of)}"
    if kind == "down" and t and len(msg) == 5:
        return f"DOWN {reason_text(msg[4], name_of)}"
    if kind == "system" and t:
        if msg[0] == "$ack" and len(msg) == 3 and type(msg[2]) is tuple:
            status, reason = msg[2]
            return f"ack {status}" if reason is None else f"ack {status} {reason_text(reason, name_of)}"
        if msg[0] == "$system" and len(msg) == 3:
            req = msg[2]
            if type(req) is tuple and len(req) == 4 and req[0] == "change_code":
                return f"sys change_code to {getattr(req[1], '__name__', req[1])} from {req[2]!r}"
            return f"sys {head_form(req, name_of)}"
    if kind == "timer":
        return f"timer {info_form(msg, name_of)}"
    if kind == "info":
        return f"info {info_form(msg, name_of)}"
    return f"{kind} {term(msg, name_of)}"


def system_reply_label(answer, name_of=None) -> str:
    """A ``gs.sys`` answer without its wrapper: ``("ok", None)`` is "reply ok", ``("ok", v)`` "reply v"."""
    if type(answer) is tuple and len(answer) == 2 and answer[0] in ("ok", "error"):
        status, value = answer
        if status == "ok":
            return "reply ok" if value is None else f"reply {term(value, name_of)}"
        return f"reply error {reason_text(value, name_of)}"
    return f"reply {term(answer, name_of)}"


def process_label(label: str) -> str:
    """A process's class or function name without module and ``<locals>`` noise.

    ``test_x.<locals>.worker`` -> ``worker``; ``Task:mod.fetch`` -> ``Task:fetch``.
    """
    label = label or "process"
    prefix, sep, rest = label.rpartition(":")
    tail = (rest or label).rsplit(".", 1)[-1] or "process"
    return f"{prefix}{sep}{tail}" if sep else tail

"""What a trace means: named processes, messages paired with their replies, and the rows of a diagram.

A :class:`~genserver_lite.trace.Trace` is a flat list of runtime events. This
module reads it once (it imports nothing heavy) and gives every picture the
same interpretation:

* **names**: each process gets a stable display name, in the order it first
  shows up: its registered name (``stack``; a second process under the same
  name is ``stack#2``), else its class or function name with a counter
  (``Stack#1``, ``Stack#2``), the notebook or test thread ``shell``;
* **messages**: each send, classified (call, reply, cast, info, timer,
  system, EXIT, DOWN), matched with its receive (by identity), calls paired
  with their replies by the call's ref (deferred replies from another
  process included), dropped replies and timed-out calls marked;
* **items**: what a sequence diagram shows, one per row, in causal order:
  message arrows, exit signals that killed (or were ignored), and notes
  (spawns, links, monitors, exits, timeouts, supervisor events);
* **activations**: when each process was busy handling a message (rows).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .._kernel import Pid, Ref
from .labels import (classify, message_label, process_label, reason_text, system_reply_label,
                     truncate)

__all__ = ["TraceModel", "Message", "Signal", "Note", "child_id_text"]


@dataclass(eq=False)
class Message:
    """One message arrow: a send (or a reply that was dropped), and what became of it."""

    seq: int
    time: float
    sender: Pid
    receiver: Pid
    msg: object
    kind: str                      # call reply cast info timer system exit down
    label: str = ""
    received: object = None        # the receive Event, if it was received while tracing
    pair: "Message | None" = None  # call <-> reply
    dropped: str | None = None     # why it was not delivered (a reply to a caller that gave up)
    lost: bool = False             # sent to a process that was already dead
    timed_out: float | None = None  # a call: the timeout it gave up after
    is_request: bool = False       # carries a from_ (calls, gs.sys requests)
    row: int = -1


@dataclass(eq=False)
class Signal:
    """An exit signal that did not become an EXIT message: it killed its target, or was ignored."""

    seq: int
    time: float
    sender: Pid
    receiver: Pid
    reason: object
    effect: str                    # "killed" or "ignored"
    label: str = ""
    row: int = -1


@dataclass(eq=False)
class Note:
    """A note over one or two lifelines: spawn, link, monitor, exit, timeout, supervisor events."""

    seq: int
    time: float
    over: tuple
    text: str
    style: str                     # spawn link monitor exit crash timeout drop sup sup_alert
    child: Pid | None = None       # for a spawn: the new process
    row: int = -1


def child_id_text(id_) -> str:
    """A child id as people read it: a class by its name, a string as is."""
    if isinstance(id_, type):
        return id_.__name__
    return id_ if isinstance(id_, str) else repr(id_)


def _is_from(x) -> bool:
    return type(x) is tuple and len(x) == 2 and type(x[0]) is Pid and type(x[1]) is Ref


def _normal(reason) -> bool:
    if type(reason) is str:
        return reason in ("normal", "shutdown")
    return type(reason) is tuple and len(reason) == 2 and reason[0] == "shutdown"


class TraceModel:
    """The events of one trace, interpreted; see the module docstring."""

    def __init__(self, trace):
        self.trace = trace
        self.events = trace.events
        self.messages: list[Message] = []
        self.items: list = []
        self._names: dict[Pid, str] = {}
        self._build()
        self._name_all()
        self.participants = self._participants()
        for m in self.messages:
            m.label = self._message_label(m)
        for s in (i for i in self.items if type(i) is Signal):
            s.label = truncate(f"signal {reason_text(s.reason, self.name)}"
                               + (" (ignored)" if s.effect == "ignored" else ""))
        self._notes_text()
        self._seqs = [i.seq for i in self.items]

    # -- reading the events ---------------------------------------------------------

    def _build(self) -> None:
        events = self.events
        requests: dict[Ref, Message] = {}
        by_msg: dict[int, Message] = {}
        unreceived: dict[tuple, list] = {}
        signals: list[Signal] = []
        exits: dict[Pid, int] = {}
        spawned_by: dict[Pid, Pid] = {}
        acted: set = set()
        spawn_notes: dict[Pid, Note] = {}
        monitor_refs: set = set()
        self.sup_events = []
        self.hidden = []            # sends not drawn: DOWNs of call monitors after the reply came
        for ev in events:
            kind, pid, peer, data = ev.event, ev.pid, ev.peer, ev.data
            if kind == "send":
                msg, mkind = data
                mkind = classify(msg, mkind)
                if mkind == "down" and self._answered_call(msg, requests):
                    self.hidden.append(ev)
                    continue
                m = Message(ev.seq, ev.time, pid, peer, msg, mkind)
                m.lost = peer in exits and exits[peer] < ev.seq
                self._pair(m, requests, monitor_refs)
                by_msg.setdefault(id(msg), m)
                unreceived.setdefault((peer, id(msg)), []).append(m)
                self.messages.append(m)
                self.items.append(m)
                if mkind == "exit" and type(msg) is tuple and len(msg) == 3:
                    for s in reversed(signals):
                        if s.sender is msg[1] and s.receiver is peer and s.effect == "":
                            s.effect = "message"
                            break
            elif kind == "drop":
                msg, why = data
                if peer is not None and type(msg) is tuple and len(msg) == 2 and type(msg[0]) is Ref:
                    m = Message(ev.seq, ev.time, pid, peer, msg, "reply", dropped=why)
                    self._pair(m, requests, monitor_refs)
                    self.messages.append(m)
                    self.items.append(m)
                else:
                    mk = classify(msg, None)
                    text = f"dropped {message_label(msg, mk)}: {why}"
                    self.items.append(Note(ev.seq, ev.time, (pid,), text, "drop"))
            elif kind == "receive":
                queue = unreceived.get((pid, id(data)))
                if queue:
                    queue.pop(0).received = ev
            elif kind == "timeout":
                call_msg, timeout = data
                m = by_msg.get(id(call_msg))
                if m is not None:
                    m.timed_out = timeout
                self.items.append(Note(ev.seq, ev.time, (pid,), ("timeout", call_msg, timeout),
                                       "timeout"))
            elif kind == "spawn":
                spawned_by[peer] = pid
                note = Note(ev.seq, ev.time, (pid,), "spawn", "spawn", child=peer)
                spawn_notes[peer] = note
                self.items.append(note)
            elif kind in ("link", "monitor") and peer in spawn_notes and peer not in acted \
                    and spawned_by.get(peer) is pid:
                note = spawn_notes[peer]
                note.text = {"spawn": f"spawn_{kind}", "spawn_link": "spawn_link",
                             "spawn_monitor": "spawn_link" if kind == "link" else "spawn_monitor"
                             }[note.text]
                if kind == "monitor":
                    monitor_refs.add(data)
            elif kind in ("link", "unlink", "monitor"):
                if kind == "monitor":
                    monitor_refs.add(data)
                self.items.append(Note(ev.seq, ev.time, (pid, peer), kind, kind))
            elif kind == "signal":
                s = Signal(ev.seq, ev.time, pid, peer, data, "")
                signals.append(s)
                self.items.append(s)
            elif kind == "exit":
                exits[pid] = ev.seq
                for s in reversed(signals):
                    if s.receiver is pid and s.effect == "":
                        s.effect = "killed"
                        break
                style = "exit" if _normal(data) else "crash"
                self.items.append(Note(ev.seq, ev.time, (pid,), data, style))
            elif kind == "supervisor":
                self.sup_events.append(ev)
                style = "sup_alert" if self._alarming(data) else "sup"
                self.items.append(Note(ev.seq, ev.time, (pid,), data, style, child=peer))
            if pid is not None and kind != "spawn":
                acted.add(pid)
        for s in signals:
            if not s.effect:
                s.effect = "ignored"
        self.items = [i for i in self.items if not (type(i) is Signal and i.effect == "message")]
        for row, item in enumerate(self.items):
            item.row = row

    @staticmethod
    def _answered_call(msg, requests: dict) -> bool:
        """A call monitor's DOWN sent after its call was answered: the caller drops it unseen.

        A call monitors its server (OTP's ``gen:call``); when the server dies
        right after replying, the runtime may deliver that DOWN before the
        caller removes the monitor, and the caller flushes it. It is part of
        the call's machinery, not a message anyone reads, and whether it is
        sent at all is a race, so it is left out of the pictures.
        """
        if type(msg) is not tuple or len(msg) != 5:
            return False
        req = requests.get(msg[1])
        return req is not None and req.pair is not None and not req.pair.dropped

    @staticmethod
    def _alarming(ev: dict) -> bool:
        e = ev.get("event")
        if e in ("intensity_reached", "start_failed"):
            return True
        return e == "exited" and not _normal(ev.get("reason"))

    def _pair(self, m: Message, requests: dict, monitor_refs: set) -> None:
        msg = m.msg
        if type(msg) is not tuple:
            return
        if len(msg) == 3 and msg[0] in ("$gen_call", "$system") and _is_from(msg[1]):
            m.is_request = True
            requests[msg[1][1]] = m
        elif m.kind == "reply" and len(msg) == 2 and type(msg[0]) is Ref:
            req = requests.get(msg[0])
            if req is not None and req.pair is None:
                req.pair, m.pair = m, req
            elif msg[0] in monitor_refs:
                m.kind = "result"      # a Task's result, sent to its owner's alias

    # -- names ------------------------------------------------------------------------

    def _name_all(self) -> None:
        order: list[Pid] = []
        seen: set = set()

        def see(p):
            if type(p) is Pid and p not in seen:
                seen.add(p)
                order.append(p)
        for item in self.items:
            if type(item) is Note:
                for p in item.over:
                    see(p)
                see(item.child)
            else:
                see(item.sender)
                see(item.receiver)
        for ev in self.events:
            see(ev.pid)
            see(ev.peer)
        self._counts: dict[str, int] = {}
        for p in order:
            label, name, shell = self.trace.seen(p) or (p._proc.label, p._proc.name, p._proc.shell)
            self._name_one(p, label, name or p._proc.name, shell)

    def name(self, pid) -> str:
        """The display name of ``pid`` in this trace (never its raw number)."""
        if pid is None:
            return "nobody"
        got = self._names.get(pid)
        if got is None:         # a pid seen only inside a message: named on first use
            got = self._name_one(pid, pid._proc.label, pid._proc.name, pid._proc.shell)
        return got

    def _name_one(self, pid, label, name, shell) -> str:
        if shell:
            base, numbered = "shell", False
        elif name:
            base, numbered = str(name), False
        else:
            base, numbered = process_label(label), True
        n = self._counts.get(base, 0) + 1
        self._counts[base] = n
        got = self._names[pid] = f"{base}#{n}" if numbered or n > 1 else base
        return got

    def _participants(self) -> list[str]:
        out: list[Pid] = []
        for item in self.items:
            pids = (item.over + ((item.child,) if item.child is not None else ())
                    if type(item) is Note else (item.sender, item.receiver))
            for p in pids:
                if type(p) is Pid and p not in out:
                    out.append(p)
        self.pids = out
        return [self.name(p) for p in out]

    # -- labels ---------------------------------------------------------------------------

    def _message_label(self, m: Message) -> str:
        kind = "reply" if m.kind == "result" else m.kind
        if (kind == "reply" and m.pair is not None and m.pair.kind == "system"
                and type(m.msg) is tuple and len(m.msg) == 2):
            text = system_reply_label(m.msg[1], self.name)     # gs.sys answers ("ok", v): show v
        else:
            text = message_label(m.msg, kind, self.name, result=m.kind == "result")
        if m.dropped:
            text = truncate(text, 20) + " (dropped)"
        elif m.lost:
            text = truncate(text, 23) + " (lost)"
        return text

    def _notes_text(self) -> None:
        name = self.name
        for n in (i for i in self.items if type(i) is Note):
            if n.style == "spawn":
                n.text = f"{n.text} {name(n.child)}"
            elif n.style in ("link", "unlink", "monitor"):
                n.text = f"{n.text} {name(n.over[1])}"
            elif n.style in ("exit", "crash"):
                n.text = truncate(f"exit {reason_text(n.text, name)}", 36)
            elif n.style == "timeout":
                _, call_msg, timeout = n.text
                n.text = truncate(f"{message_label(call_msg, 'call', name)} timed out after "
                                  f"{timeout:g} s" if isinstance(timeout, (int, float))
                                  else f"{message_label(call_msg, 'call', name)} timed out", 44)
            elif n.style in ("sup", "sup_alert"):
                n.text = self.sup_text(n.text, n.child)

    def sup_text(self, ev: dict, pid) -> str:
        """A supervisor event as one short sentence."""
        e, cid = ev.get("event"), child_id_text(ev.get("id"))
        reason = reason_text(ev.get("reason"), self.name)
        who = f"{cid} ({self.name(pid)})" if type(pid) is Pid and self.name(pid) != cid else cid
        if e == "started":
            text = f"started {who}"
        elif e == "restarted":
            text = f"restarted {who}"
        elif e == "terminated":
            text = f"terminated {who}: {reason}"
        elif e == "exited":
            action = {"restart": "restart", "none": "no restart", "escalate": "escalate"}.get(
                ev.get("action"), str(ev.get("action")))
            text = f"{cid} exited ({reason}): {action}"
            if ev.get("siblings"):
                text += ", takes down " + ", ".join(child_id_text(s) for s in ev["siblings"])
        elif e == "start_failed":
            text = f"{cid} failed to start ({reason})"
        elif e == "intensity_reached":
            text = "intensity reached: shutting down"
        elif e == "deleted":
            text = f"deleted {cid}"
        else:
            text = f"{e} {cid}"
        return truncate(text, 60)

    # -- positions ----------------------------------------------------------------------------

    def position(self, seq: int) -> float:
        """The row of the event ``seq``: an item's own row, or halfway between two rows."""
        i = bisect.bisect_right(self._seqs, seq)
        if i and self._seqs[i - 1] == seq:
            return float(i - 1)
        return i - 0.5

    def activations(self) -> list[tuple[Pid, float, float]]:
        """When each non-shell process was busy: ``(pid, first_row, last_row)`` per message handled.

        A handling starts when the process receives a message (not a reply to
        its own call, which it waits for inside a handling; for a behaviour,
        only what its loop hands to a callback, traced as a receive whose
        peer is the process itself) and ends at the last row where it acted
        before its next handling.
        """
        acts: dict[Pid, list[float]] = {}
        for item in self.items:
            actor = item.over[0] if type(item) is Note else item.sender
            if type(actor) is Pid and item.row < self.lifeline(actor)[1]:
                acts.setdefault(actor, []).append(float(item.row))
        starts: dict[Pid, list[float]] = {}
        looped = {m.receiver for m in self.messages
                  if m.received is not None and m.received.peer is m.receiver}
        for m in self.messages:
            r = m.received
            if r is None or m.kind in ("reply", "result") or m.receiver._proc.shell:
                continue
            if m.receiver in looped and r.peer is not m.receiver:
                continue    # a selective receive inside a callback, not a new callback
            pos = self.position(r.seq)
            if pos == m.row + 0.5:
                pos = float(m.row)      # received before anything else happened: at the arrow
            starts.setdefault(m.receiver, []).append(pos)
        out = []
        for pid, begins in starts.items():
            begins.sort()
            rows = acts.get(pid, [])
            for i, b in enumerate(begins):
                nxt = begins[i + 1] if i + 1 < len(begins) else float("inf")
                inside = [r for r in rows if b <= r < nxt]
                end = max(inside) if inside else b
                out.append((pid, b, max(end, b + 0.4)))
        out.sort(key=lambda a: (a[1], self.pids.index(a[0]) if a[0] in self.pids else 0))
        return out

    def lifeline(self, pid) -> tuple[float, float]:
        """First and last row of ``pid``'s lifeline (spawn row or top; exit row or bottom)."""
        lines = self.__dict__.get("_lifelines")
        if lines is None:
            lines = self._lifelines = {}
            for item in self.items:
                if type(item) is Note and item.style == "spawn":
                    lines.setdefault(item.child, [-0.5, None])[0] = float(item.row)
                if type(item) is Note and item.style in ("exit", "crash"):
                    lines.setdefault(item.over[0], [-0.5, None])[1] = float(item.row)
        top, bottom = lines.get(pid, (-0.5, None))
        return top, len(self.items) - 0.5 if bottom is None else bottom



def model_of(trace_or_model) -> TraceModel:
    """The interpreted events of a Trace (or a TraceModel itself); anything else is a TypeError naming it."""
    if isinstance(trace_or_model, TraceModel):
        return trace_or_model
    model = getattr(trace_or_model, "model", None)
    if isinstance(model, TraceModel):
        return model
    raise TypeError(f"expected a trace (from `with gs.trace() as t:`), got {trace_or_model!r}")

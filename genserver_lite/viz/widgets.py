"""Live notebook panels (ipywidgets): a supervision tree you can break, and a trace you can step through.

``gs.viz.SupervisorPanel(sup)`` shows a supervisor's tree live: each child's
status and restart count, with a **kill** button (``gs.exit(pid, "kill")``,
an untrappable kill from outside) and a **crash in handler** button
(``gs.testing.crash``: the server crashes inside its loop, ``terminate``
runs, the crash is logged). The panel updates itself as restarts happen: a
listener *process* subscribes to the supervisors' events
(``Supervisor.subscribe``) and redraws. After a restart it highlights the
child that exited (red) and the siblings ``one_for_all`` or
``rest_for_one`` took down with it (orange), until the next one.

``gs.viz.TraceStepper(trace)`` steps through a trace's events with a slider
and a play button, highlighting the current one on the sequence diagram and
saying in words what happened.

Threads: the panel's listener is a genserver_lite process, so ``close()``
stops it and ``gs.reset()`` kills it; the stepper has no thread. Widget
values are set from the listener's thread, which ipykernel allows.
"""

from __future__ import annotations

import html
import weakref

import ipywidgets as W

from .. import _kernel as k
from .. import process
from .._kernel import Pid
from ..errors import Exit, ReceiveTimeout
from ..trace import untraced
from .labels import reason_text
from .model import Message, Note, Signal, child_id_text
from .sequence import sequence_diagram
from .style import STATUS_COLOUR, png
from .tree import snapshot

__all__ = ["SupervisorPanel", "TraceStepper", "describe_step"]

_STOP = ("$panel_stop",)
_PANELS: "weakref.WeakSet[SupervisorPanel]" = weakref.WeakSet()   # panels still live


def _on_reset() -> None:
    """gs.reset() killed every listener: say so on each panel and turn its buttons off."""
    for panel in list(_PANELS):
        panel._stopped("gs.reset() stopped every process: this panel is no longer live "
                       "(start the supervisor again and make a new panel)")


k._reset_hooks.append(_on_reset)


class SupervisorPanel(W.VBox):
    """A live supervision tree with kill and crash buttons per child (see the module docstring).

    Attributes:
        rows: ``{(supervisor label, child id): {"status", "restarts", "pid", "mark"}}``,
            ``mark`` being ``"exited"``, ``"taken_down"`` or None. Children that share an
            id (a DynamicSupervisor's) are keyed ``(label, id, child record number)``.
        banner: the last event, in words.
        listener: the pid of the listening process (None once closed).
    """

    def __init__(self, sup):
        super().__init__(layout=W.Layout(border="1px solid #d0d7e2", padding="6px", width="fit-content"))
        self.tree = snapshot(sup)           # raises NoProc / TypeError for a bad sup, in the caller
        self.root = self.tree["pid"]
        self.rows: dict = {}
        self.banner = "live: updates as the supervisor restarts children"
        self.marks: dict = {}               # (sup label, child id) -> "exited" | "taken_down"
        self._back: list = []               # children restarted since the last exit
        self.error = None
        self._banner = W.HTML()
        self._render()
        self.listener = process.spawn(self._listen)
        untraced(self.listener)     # its describe calls stay out of the lesson's traces
        _PANELS.add(self)

    # -- the listener process ------------------------------------------------------------

    def _listen(self) -> None:
        """Runs in the listener process: subscribe, then redraw on every supervisor event."""
        try:
            self._loop()
        finally:
            untraced(process.self(), False)

    def _loop(self) -> None:
        subscribed: set = set()
        mref = process.monitor(self.root)
        self._subscribe(self.tree, subscribed)
        while True:
            msg = process.receive()
            events = []
            while True:         # coalesce a burst of events into one redraw
                if msg == _STOP:
                    self._unsubscribe(subscribed)
                    return
                if type(msg) is tuple and len(msg) == 5 and msg[0] == "DOWN" and msg[1] is mref:
                    self.banner = f"the supervisor exited ({reason_text(msg[4])}): panel stopped"
                    for key, row in self.rows.items():
                        row["status"] = "terminated"
                    _PANELS.discard(self)
                    self._render(live=False)
                    return
                if type(msg) is tuple and len(msg) == 3 and msg[0] == "supervisor_event":
                    events.append((msg[1], msg[2]))
                try:
                    msg = process.receive(timeout=0)
                except ReceiveTimeout:
                    break
            if events:
                self._apply(events)
                try:
                    self.tree = snapshot(self.root)
                except Exit:
                    continue    # it is going down: its DOWN comes next
                self._subscribe(self.tree, subscribed)
                self._render()

    def _subscribe(self, tree: dict, subscribed: set) -> None:
        from ..supervisor import Supervisor
        pid = tree["pid"]
        if pid not in subscribed:
            try:
                subscribed.add(pid)
                tree["_sub"] = Supervisor.subscribe(pid)
            except Exit:
                pass
        for c in tree["children"]:
            if c.get("tree"):
                self._subscribe(c["tree"], subscribed)

    def _unsubscribe(self, subscribed: set) -> None:
        from ..supervisor import Supervisor
        for node in _walk(self.tree):
            ref = node.get("_sub")
            if ref is not None and type(node["pid"]) is Pid and node["pid"]._proc.alive:
                try:
                    Supervisor.unsubscribe(node["pid"], ref)
                except Exit:
                    pass

    def _apply(self, events) -> None:
        labels = {n["pid"]: _sup_label(n) for n in _walk(self.tree)}
        for sup_pid, ev in events:
            label = labels.get(sup_pid, "?")
            cid = child_id_text(ev["id"]) if ev["id"] is not None else ""
            if ev["event"] == "exited" and ev["action"] in ("restart", "escalate"):
                # the child that exited by its record (a DynamicSupervisor's children share an id);
                # the siblings a strategy took down by id (a Supervisor's ids are unique)
                self.marks = {("child", ev.get("child")): "exited"}
                self.marks.update({(label, s): "taken_down" for s in ev["siblings"]})
                took = (", takes down " + ", ".join(child_id_text(s) for s in ev["siblings"])
                        if ev["siblings"] else "")
                verb = "restart" if ev["action"] == "restart" else "escalate: too many restarts"
                self.banner = f"{label}: {cid} exited ({reason_text(ev['reason'])}) -> {verb}{took}"
                self._back = []
            elif ev["event"] == "intensity_reached":
                self.banner = f"{label}: intensity reached, shutting down"
            elif ev["event"] == "restarted":
                self._back.append(cid)
                head = self.banner.split(" · back up:")[0]
                self.banner = f"{head} · back up: {', '.join(self._back)}"

    # -- drawing -------------------------------------------------------------------------

    def _render(self, live: bool = True) -> None:
        rows: dict = {}
        boxes = [self._banner]
        for node, depth in _walk_depth(self.tree):
            label = _sup_label(node)
            boxes.append(W.HTML(_sup_html(node, depth), layout=W.Layout(margin=f"4px 0 0 {24 * depth}px")))
            ids = [c["id"] for c in node["children"]]
            for c in node["children"]:
                if c.get("tree"):
                    continue        # drawn as its own supervisor header below
                key = (label, c["id"]) if ids.count(c["id"]) == 1 else (label, c["id"], c.get("key"))
                mark = self.marks.get(("child", c.get("key"))) or self.marks.get((label, c["id"]))
                rows[key] = {"status": c["status"], "restarts": c["restarts"], "pid": c["pid"],
                             "mark": mark}
                boxes.append(self._child_row(node, c, depth + 1, mark, live))
            for c in node["children"]:
                if c.get("tree"):
                    key = (label, c["id"])
                    rows[key] = {"status": c["status"], "restarts": c["restarts"], "pid": c["pid"],
                                 "mark": self.marks.get(("child", c.get("key"))) or self.marks.get(key)}
        self.rows = rows
        self._banner.value = (f"<div style='font-size:12px;color:#bf360c;margin-bottom:4px'>"
                              f"{html.escape(self.banner)}</div>")
        old = self.children
        self.children = tuple(boxes)
        for w in old:
            if w is not self._banner:
                w.close()

    def _child_row(self, node, c, depth, mark, live) -> W.HBox:
        face, edge = STATUS_COLOUR.get(c["status"], STATUS_COLOUR["terminated"])
        ring = {"exited": "#c62828", "taken_down": "#ef6c00"}.get(mark, edge)
        why = {"exited": " · exited", "taken_down": " · taken down"}.get(mark, "")
        name = f" ({html.escape(c['name'])})" if c.get("name") else ""
        restarted = f" · restarted {c['restarts']}x" if c["restarts"] else ""
        text = (f"<div style='background:{face};border:{3 if mark else 1}px solid {ring};"
                f"border-radius:6px;padding:2px 8px;min-width:230px;font-size:12px'>"
                f"<b>{html.escape(child_id_text(c['id']))}</b>{name} · {c['status']}"
                f"{restarted}{why}</div>")
        kill = W.Button(description="kill", button_style="danger", tooltip='gs.exit(pid, "kill")',
                        layout=W.Layout(width="60px"), disabled=not live or type(c["pid"]) is not Pid)
        crash = W.Button(description="crash in handler", button_style="warning",
                         tooltip="gs.testing.crash(pid): crash inside the server's loop",
                         layout=W.Layout(width="130px"),
                         disabled=not live or type(c["pid"]) is not Pid)
        sup, cid, key = node["pid"], c["id"], c.get("key")    # key: the child itself, when ids repeat
        kill.on_click(lambda _b: self.kill(sup, cid, child=key))
        crash.on_click(lambda _b: self.crash(sup, cid, child=key))
        return W.HBox([W.HTML(text), kill, crash], layout=W.Layout(margin=f"2px 0 0 {24 * depth}px"))

    # -- the buttons (run in the kernel's thread, as the shell) ----------------------------

    def _target(self, sup, cid, child):
        """The pid a button acts on, or None (and the panel says why)."""
        if not self._live():
            return None
        for node in _walk(self.tree):
            if node["pid"] is sup:
                for c in node["children"]:
                    if c["id"] == cid and child in (None, c.get("key")) and type(c["pid"]) is Pid:
                        return c["pid"]
        self._say(f"{child_id_text(cid)} is not running")
        return None

    def _live(self) -> bool:
        """Whether the panel still follows its supervisor; if not, say so instead of acting."""
        if self.listener is not None and self.listener._proc.alive:
            return True
        self._stopped(self.banner if "panel stopped" in self.banner or "no longer live" in self.banner
                      else "this panel is no longer live: make a new one")
        return False

    def _stopped(self, text: str) -> None:
        """Show the last view with its buttons off, and why."""
        _PANELS.discard(self)
        self.listener = None
        self.banner = text
        self._render(live=False)

    def kill(self, sup, cid, *, child=None) -> None:
        """Kill a child from outside (``gs.exit(pid, "kill")``), as the kill button does.

        ``child`` picks one of several children sharing the id ``cid`` (a
        DynamicSupervisor's) by its record number; without it, the first.
        """
        pid = self._target(sup, cid, child)
        if pid is not None:
            process.exit(pid, "kill")

    def crash(self, sup, cid, reason="crashed from the panel", *, child=None) -> None:
        """Crash a child inside its handler (``gs.testing.crash``), as the crash button does."""
        from ..testing import crash
        pid = self._target(sup, cid, child)
        if pid is None:
            return
        try:
            crash(pid, reason)
        except Exit as e:
            self._say(f"could not crash {child_id_text(cid)}: {e}")

    def _say(self, text: str) -> None:
        self.banner = text
        self._banner.value = f"<div style='font-size:12px;color:#616161'>{html.escape(text)}</div>"

    def close(self) -> None:
        """Stop the listener process and close the widgets."""
        _PANELS.discard(self)
        pid, self.listener = self.listener, None
        if pid is not None and pid._proc.alive:
            ref = process.monitor(pid)
            process.send(pid, _STOP)
            try:
                process.receive(lambda m: type(m) is tuple and len(m) == 5 and m[0] == "DOWN"
                                and m[1] is ref, timeout=5.0)
            except ReceiveTimeout:
                process.exit(pid, "kill")
        for w in self.children:
            w.close()
        super().close()


def _walk(tree):
    for node, _ in _walk_depth(tree):
        yield node


def _walk_depth(tree, depth=0):
    yield tree, depth
    for c in tree["children"]:
        if c.get("tree"):
            yield from _walk_depth(c["tree"], depth + 1)


def _sup_label(node: dict) -> str:
    return str(node.get("name") or node.get("module"))


def _sup_html(node: dict, depth: int) -> str:
    face, edge = STATUS_COLOUR["supervisor"]
    return (f"<div style='background:{face};border:2px solid {edge};border-radius:6px;"
            f"padding:2px 8px;font-size:12px;display:inline-block'><b>{html.escape(_sup_label(node))}</b>"
            f" · {node['kind']} · <b>{node['strategy']}</b> · restarts "
            f"{len(node['restarts'])}/{node['max_restarts']} in {node['max_seconds']:g} s</div>")


# -- stepping through a trace -----------------------------------------------------------------

def describe_step(model, seq: int) -> str:
    """What the event ``seq`` of a trace did, in words."""
    name = model.name
    for item in model.items:
        if item.seq == seq:
            if type(item) is Message:
                what = "replies" if item.kind in ("reply", "result") else "sends"
                extra = f" ({item.dropped})" if item.dropped else ""
                return f"{name(item.sender)} {what} {item.label} to {name(item.receiver)}{extra}"
            if type(item) is Signal:
                return (f"{name(item.sender)} sends an exit signal ({reason_text(item.reason)}) to "
                        f"{name(item.receiver)}: it {item.effect} it" if item.effect == "killed"
                        else f"{name(item.sender)}'s exit signal to {name(item.receiver)} is ignored")
            if type(item) is Note:
                return f"{name(item.over[0])}: {item.text}"
        if type(item) is Message and item.received is not None and item.received.seq == seq:
            return f"{name(item.receiver)} takes {item.label} out of its mailbox"
    return f"event {seq}"


class TraceStepper(W.VBox):
    """Step through a trace: a slider and a play button move a highlight along the sequence diagram."""

    def __init__(self, trace, *, interval_ms: int = 900):
        super().__init__()
        self.model = trace.model
        steps = {i.seq for i in self.model.items}
        steps |= {m.received.seq for m in self.model.messages if m.received is not None}
        self.steps = sorted(steps)
        if not self.steps:
            raise ValueError("this trace has nothing to step through (no messages or events shown)")
        n = len(self.steps)
        self.slider = W.IntSlider(value=1, min=1, max=n, description="step",
                                  continuous_update=False, layout=W.Layout(width="420px"))
        self.play = W.Play(value=1, min=1, max=n, interval=interval_ms, description="play")
        W.jslink((self.play, "value"), (self.slider, "value"))
        self.caption = W.HTML()
        self.image = W.Image(format="png", layout=W.Layout(align_self="flex-start"))   # its own size, not stretched
        self.slider.observe(self._show, names="value")
        self.children = (W.HBox([self.play, self.slider]), self.caption, self.image)
        self._show()

    @property
    def seq(self) -> int:
        """The ``seq`` of the event the stepper shows now."""
        return self.steps[self.slider.value - 1]

    def _show(self, _change=None) -> None:
        seq = self.seq
        ev_time = next((e.time for e in self.model.events if e.seq == seq), 0.0)
        self.caption.value = (f"<div style='font-size:13px'><b>step {self.slider.value}/"
                              f"{len(self.steps)}</b> · {ev_time * 1000:.1f} ms · "
                              f"{html.escape(describe_step(self.model, seq))}</div>")
        self.image.value = png(sequence_diagram(self.model, highlight=seq))

"""gs.viz: the figures show what the trace holds (arrows, labels, pages), trees, timelines, widgets."""

import logging
import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

import genserver_lite as gs  # noqa: E402
from genserver_lite.supervisor import Supervisor  # noqa: E402
from genserver_lite.testing import FakeClock, wait_until  # noqa: E402
from genserver_lite.trace import trace  # noqa: E402
from genserver_lite.viz import scenarios as sc  # noqa: E402
from genserver_lite.viz.sequence import page_count, sequence_diagram  # noqa: E402
from genserver_lite.viz.style import png  # noqa: E402
from genserver_lite.viz.timeline import restart_timeline, window_counts  # noqa: E402
from genserver_lite.viz.tree import supervision_mermaid, supervision_tree  # noqa: E402


@pytest.fixture(autouse=True)
def quiet_crashes():
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def _by_gid(fig, prefix):
    return [a for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]


def _texts(fig, gid):
    return [a.get_text() for a in fig.findobj() if a.get_gid() == gid]


# -- sequence diagrams ---------------------------------------------------------------------------

def test_one_arrow_per_traced_message_with_its_label():
    t, _ = sc.one_for_all()
    fig = sequence_diagram(t)
    events = t.events
    sends = sum(1 for e in events if e.event == "send")
    reply_drops = sum(1 for e in events if e.event == "drop" and e.peer is not None)
    arrows = _by_gid(fig, "message:")
    assert len(arrows) == sends + reply_drops - len(t.model.hidden) == len(t.messages())
    assert sorted(_texts(fig, "label")) == sorted(
        [m.label for m in t.messages()] + [i.label for i in t.model.items if type(i).__name__ == "Signal"])
    assert len(_by_gid(fig, "signal")) == 2       # the one_for_all shutdown signals to A and C
    notes = " ".join(a.get_text() for a in _by_gid(fig, "note:"))
    assert "takes down A, C" in notes and "restarted C (C#2)" in notes


def test_calls_are_solid_and_replies_dashed_with_activation_bars():
    t = sc.call_and_cast()
    fig = sequence_diagram(t)
    [call] = _by_gid(fig, "message:call")
    [reply] = _by_gid(fig, "message:reply")
    assert call.get_linestyle() == "-" and reply.get_linestyle() == "--"
    assert call.get_edgecolor() == reply.get_edgecolor()
    [cast] = _by_gid(fig, "message:cast")
    assert cast.get_edgecolor() != call.get_edgecolor()
    assert len(_by_gid(fig, "activation")) == 2     # Stack handled the cast and the call
    assert _by_gid(fig, "spawn")


def test_a_timeout_and_a_dropped_reply_are_drawn():
    t = sc.timeout()
    fig = sequence_diagram(t)
    assert any("timed out after 0.05 s" in a.get_text() for a in _by_gid(fig, "note:timeout"))
    assert "reply 'late' (dropped)" in _texts(fig, "label")


def test_long_traces_wrap_into_columns_and_pages():
    t = sc.many_messages(60)
    n_items = len(t.model.items)
    assert n_items > 60
    assert page_count(t) == -(-n_items // 60)
    fig = sequence_diagram(t)
    assert len(fig.axes) == 2                       # two columns of 30 rows
    total = sum(len(_by_gid(sequence_diagram(t, page=p), "message:")) for p in range(1, page_count(t) + 1))
    assert total == len(t.messages())
    with pytest.raises(ValueError, match="page 9 does not exist"):
        sequence_diagram(t, page=9)
    with pytest.raises(ValueError, match="rows"):
        sequence_diagram(t, rows=0)
    small = sequence_diagram(t, rows=10, columns=1)
    assert len(_by_gid(small, "message:")) <= 10


def test_highlight_picks_the_page_of_its_event():
    t = sc.many_messages(60)
    last = t.model.items[-1]
    fig = sequence_diagram(t, highlight=last.seq)
    assert _by_gid(fig, "highlight")
    assert page_count(t) == 1 or fig._suptitle.get_text().count(f"page {page_count(t)} of")


def test_figures_render_to_png_and_display_once_in_jupyter():
    fig = sequence_diagram(sc.call_and_cast())
    assert fig._repr_png_().startswith(b"\x89PNG")
    import matplotlib.pyplot as plt
    assert not plt.get_fignums()                    # nothing left in pyplot's global list


# -- supervision trees ----------------------------------------------------------------------------

def test_tree_shows_children_status_strategy_and_the_last_restart():
    _, sup = sc.one_for_all()
    fig = supervision_tree(sup)
    nodes = {a.get_text().split("\n")[0]: a for a in _by_gid(fig, "node:")}
    assert set(nodes) == {"sup", "A", "B", "C"}
    assert "one_for_all" in nodes["sup"].get_text() and "restarts 1/3 in 5 s" in nodes["sup"].get_text()
    assert all("running · restarted 1x" in nodes[c].get_text() for c in "ABC")
    edge = {c: matplotlib.colors.to_hex(nodes[c].get_bbox_patch().get_edgecolor()) for c in "ABC"}
    assert edge == {"A": "#ef6c00", "B": "#c62828", "C": "#ef6c00"}
    text = supervision_mermaid(sup)
    assert text.startswith("flowchart TD") and text.count("running<br/>↻ 1") == 3


def test_tree_of_nested_supervisors_and_statuses():
    from genserver_lite.viz.gallery import _nested_app
    app = _nested_app()
    fig = supervision_tree(app)
    gids = [a.get_gid() for a in _by_gid(fig, "node:")]
    assert gids.count("node:supervisor") == 3 and gids.count("node:terminated") == 1
    assert gids.count("node:running") == 6
    mermaid = supervision_mermaid(app)
    assert "rest_for_one" in mermaid and "DynamicSupervisor" in mermaid and "terminated" in mermaid


def test_tree_rejects_what_is_not_a_supervisor():
    pid = sc.Stack.start_link([])
    with pytest.raises(TypeError, match="not a supervisor"):
        supervision_tree(pid)
    with pytest.raises(gs.NoProc):
        supervision_tree("no_such_supervisor")


# -- restart timelines -------------------------------------------------------------------------------

def test_window_counts_is_the_sliding_restart_count():
    xs, ys = window_counts([0.0, 1.0, 2.0, 3.0], 5.0)
    at = dict(zip(xs, ys))
    assert xs == [0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0]
    assert [at[x] for x in xs] == [1, 2, 3, 4, 4, 3, 2, 1]


def test_timeline_of_a_restart_storm_shows_crashes_restarts_and_escalation():
    with FakeClock() as clock:
        t = sc.restart_storm(clock)
    fig = restart_timeline(t, limits={"sup": (3, 5.0)})
    assert len(_by_gid(fig, "crash")) == 4          # B crashed four times
    assert len(_by_gid(fig, "restart")) == 6        # B and C restarted three times each
    assert len(_by_gid(fig, "taken_down")) == 3     # rest_for_one took C down with each restart
    assert len(_by_gid(fig, "escalation")) == 1 and len(_by_gid(fig, "over_limit")) == 1
    from_events = restart_timeline(t)               # the supervisor is gone: its events carry its limits
    assert len(_by_gid(from_events, "over_limit")) == 1
    assert not any("limits unknown" in a.get_text() for a in from_events.findobj(matplotlib.text.Text))


def test_timeline_of_a_live_supervisor_reads_its_history():
    _, sup = sc.one_for_all()
    fig = restart_timeline(sup)
    assert len(_by_gid(fig, "crash")) == 1 and len(_by_gid(fig, "taken_down")) == 2
    assert len(_by_gid(fig, "restart")) == 3 and len(_by_gid(fig, "window")) == 1


def test_timeline_gives_each_child_of_a_dynamic_supervisor_its_own_row():
    sup = gs.DynamicSupervisor.start_link()
    pids = [gs.DynamicSupervisor.start_child(sup, (sc.Stack, [i])) for i in range(3)]
    for pid in pids[:2]:                     # one spec, one id ("Stack"), three children: crash two
        ref = gs.monitor(pid)
        gs.exit(pid, "boom")
        gs.receive(lambda m: m[:2] == ("DOWN", ref), timeout=5.0)
    wait_until(lambda: sum(e["event"] == "restarted" for e in gs.sys.get_state(sup).history) == 2)
    fig = restart_timeline(sup)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Stack #1", "Stack #2", "Stack #3"]
    rows = lambda gid: sorted(int(round(a.get_ydata()[0])) for a in _by_gid(fig, gid))  # noqa: E731
    assert rows("crash") == [0, 1] and rows("restart") == [0, 1] and rows("start") == [0, 1, 2]


# -- widgets -------------------------------------------------------------------------------------

def _buttons(panel, child_id):
    import ipywidgets as W
    for row in panel.children:
        if isinstance(row, W.HBox) and f"<b>{child_id}</b>" in row.children[0].value:
            return row.children[1], row.children[2]
    raise AssertionError(f"no row for {child_id}")


def test_panel_of_a_dynamic_supervisor_marks_only_the_child_that_exited():
    from genserver_lite.viz.widgets import SupervisorPanel
    sup = gs.DynamicSupervisor.start_link(name="dyn")
    pids = [gs.DynamicSupervisor.start_child(sup, (sc.Stack, [i])) for i in range(3)]
    panel = SupervisorPanel(sup)
    try:
        assert len(panel.rows) == 3                     # three children, one id: three rows
        ref = gs.monitor(pids[1])
        gs.exit(pids[1], "boom")
        gs.receive(lambda m: m[:2] == ("DOWN", ref), timeout=5.0)
        wait_until(lambda: sorted(r["restarts"] for r in panel.rows.values()) == [0, 0, 1], 2.0)
        marks = sorted((r["restarts"], r["mark"] or "") for r in panel.rows.values())
        assert marks == [(0, ""), (0, ""), (1, "exited")], panel.rows
    finally:
        panel.close()


def test_panel_kill_button_of_a_dynamic_supervisor_kills_that_child_not_the_first():
    import ipywidgets as W
    from genserver_lite.viz.widgets import SupervisorPanel
    sup = gs.DynamicSupervisor.start_link()
    pids = [gs.DynamicSupervisor.start_child(sup, (sc.Stack, [i])) for i in range(3)]
    panel = SupervisorPanel(sup)
    try:
        rows = [r for r in panel.children if isinstance(r, W.HBox)]
        assert len(rows) == 3
        ref = gs.monitor(pids[2])
        rows[2].children[1].click()                     # the third row's kill button
        gs.receive(lambda m: m[:2] == ("DOWN", ref), timeout=5.0)
        assert gs.alive(pids[0]) and gs.alive(pids[1])
    finally:
        panel.close()


def test_panel_updates_itself_and_highlights_the_siblings_taken_down():
    from genserver_lite.viz.widgets import SupervisorPanel
    sup = Supervisor.start_link([sc.A, sc.B, sc.C], strategy="one_for_all", name="sup")
    panel = SupervisorPanel(sup)
    assert "one_for_all" in panel.children[1].value
    kill, crash = _buttons(panel, "B")
    crash.click()
    wait_until(lambda: all(panel.rows[("sup", c)]["restarts"] == 1 for c in (sc.A, sc.B, sc.C)), 2.0)
    marks = {k[1].__name__: v["mark"] for k, v in panel.rows.items()}
    assert marks == {"A": "taken_down", "B": "exited", "C": "taken_down"}
    assert panel.banner.startswith("sup: B exited (crashed from the panel) -> restart, takes down A, C")
    kill, _ = _buttons(panel, "C")
    kill.click()
    wait_until(lambda: panel.rows[("sup", sc.C)]["restarts"] == 2, 2.0)
    assert panel.rows[("sup", sc.C)]["mark"] == "exited" and "C exited (killed)" in panel.banner
    listener = panel.listener
    panel.close()
    assert panel.listener is None and not gs.alive(listener)


def test_panel_listener_dies_with_reset_and_with_its_supervisor():
    from genserver_lite.viz.widgets import SupervisorPanel
    sup = Supervisor.start([sc.A], name="sup")
    panel = SupervisorPanel(sup)
    listener = panel.listener
    gs.stop(sup, "shutdown")
    wait_until(lambda: not gs.alive(listener), 2.0)
    assert "supervisor exited (shutdown)" in panel.banner
    panel2 = SupervisorPanel(Supervisor.start([sc.A]))
    listener2 = panel2.listener
    gs.reset()                                      # conftest fails the test if a thread leaks
    assert not gs.alive(listener2)
    assert "no longer live" in panel2.banner        # it says so, and its buttons are off
    buttons = [w for row in panel2.children for w in getattr(row, "children", ()) if hasattr(w, "on_click")]
    assert buttons and all(b.disabled for b in buttons)
    panel2.kill(None, sc.A)                         # a click on a stopped panel explains itself
    assert "no longer live" in panel2.banner


def test_stepper_moves_the_highlight_through_the_events():
    from genserver_lite.viz.widgets import TraceStepper
    t = sc.call_and_cast()
    stepper = TraceStepper(t)
    assert len(stepper.steps) == len(t.model.items) + sum(1 for m in t.messages() if m.received)
    first = stepper.image.value
    stepper.slider.value = 5
    assert stepper.image.value != first and "step 5/" in stepper.caption.value
    captions = []
    for i in range(1, len(stepper.steps) + 1):
        stepper.slider.value = i
        captions.append(stepper.caption.value)
    text = " ".join(captions)
    assert "shell sends call pop to Stack#1" in text and "Stack#1 replies reply 2 to shell" in text
    assert "Stack#1 takes call pop out of its mailbox" in text
    with trace() as empty:
        pass
    with pytest.raises(ValueError, match="nothing to step through"):
        TraceStepper(empty)


# -- packaging ---------------------------------------------------------------------------------

def test_importing_the_package_imports_no_matplotlib_or_ipywidgets():
    code = ("import sys, genserver_lite, genserver_lite.viz; from genserver_lite.trace import trace;"
            "t = trace(); t.start(); t.stop(); t.to_mermaid();"
            "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_gallery_writes_every_picture(tmp_path):
    from genserver_lite.viz.gallery import main
    assert main([str(tmp_path)]) == 0
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert {"sequence_call_and_cast.png", "tree_nested.png", "timeline_restart_storm.png",
            "stepper_frame.png"} <= set(pngs)
    assert all((tmp_path / p).read_bytes().startswith(b"\x89PNG") for p in pngs)
    assert (tmp_path / "widgets.html").read_text().count("application/vnd.jupyter.widget-view+json") == 2
    assert png(sequence_diagram(sc.call_and_cast()))


def test_a_live_panel_stays_out_of_traces():
    from genserver_lite.viz.widgets import SupervisorPanel
    sup = Supervisor.start_link([sc.A, sc.B], name="sup")
    panel = SupervisorPanel(sup)
    with trace() as t:
        b = panel.rows[("sup", sc.B)]["pid"]
        gs.exit(b, "kill")
        wait_until(lambda: panel.rows[("sup", sc.B)]["restarts"] == 1, 2.0)
    assert all(panel.listener not in (e.pid, e.peer) for e in t.events)
    assert "describe" not in t.to_mermaid() and "_listen" not in t.to_mermaid()
    panel.close()

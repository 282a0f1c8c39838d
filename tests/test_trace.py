"""gs.trace: what it records, how it pairs calls and replies, and its Mermaid text (golden files)."""

import logging
import os
import threading
from pathlib import Path

import pytest

import genserver_lite as gs
from genserver_lite import _kernel as k
from genserver_lite.testing import FakeClock
from genserver_lite.trace import trace
from genserver_lite.viz import scenarios as sc
from genserver_lite.viz.labels import message_label, process_label, reason_text, truncate

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def quiet_crashes():
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


# -- recording ---------------------------------------------------------------------------------

def test_records_every_kind_of_event_in_order_with_relative_times():
    with trace() as t:
        pid = sc.Stack.start_link([1])
        gs.cast(pid, ("push", 2))
        assert gs.call(pid, "pop") == 2
        gs.send(pid, "tick")
        gs.exit(pid, "kill")
        gs.receive(lambda m: m[0] == "EXIT")
    events = t.events
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert all(0 <= a.time <= b.time for a, b in zip(events, events[1:]))
    kinds = {e.event for e in events}
    assert {"spawn", "link", "monitor", "send", "receive", "signal", "exit"} <= kinds
    sends = [(e.data[1], e.data[0]) for e in events if e.event == "send"]
    assert [kind for kind, _ in sends] == ["system", "cast", "call", "reply", None, "exit"]
    exit_ev = next(e for e in events if e.event == "exit")
    assert exit_ev.pid is pid and exit_ev.data == "killed"


def test_tracing_off_installs_nothing_and_restores_the_previous_tracer():
    assert k._tracer is None
    seen = []

    def foreign(*ev):
        seen.append(ev[0])
    k._tracer = foreign
    try:
        with trace() as t:
            assert k._tracer is not foreign
            gs.send(gs.self(), "x")
        assert k._tracer is foreign
        assert "send" in seen            # the foreign tracer kept receiving events meanwhile
        assert any(e.event == "send" for e in t.events)
    finally:
        k._tracer = None


def test_nested_traces_each_see_what_happens_while_they_are_active():
    me = gs.self()
    with trace() as outer:
        gs.send(me, "a")
        with trace() as inner:
            gs.send(me, "b")
        gs.send(me, "c")
    assert k._tracer is None
    msgs = lambda t: [e.data[0] for e in t.events if e.event == "send"]   # noqa: E731
    assert msgs(outer) == ["a", "b", "c"]
    assert msgs(inner) == ["b"]
    gs.flush()


def test_concurrent_traces_in_two_threads_stop_in_any_order():
    started, release = threading.Barrier(2), threading.Event()
    results = {}

    def run(tag):
        t = trace().start()
        started.wait()
        gs.send(gs.self(), tag)
        if tag == "first":
            t.stop()
            release.set()
        else:
            release.wait(2)
            gs.send(gs.self(), "after")
            t.stop()
        results[tag] = [e.data[0] for e in t.events if e.event == "send"]
        gs.flush()

    threads = [threading.Thread(target=run, args=(tag,)) for tag in ("first", "second")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(5)
    assert k._tracer is None
    assert results["second"][-1] == "after" and "after" not in results["first"]
    assert set(results["first"]) >= {"first"} and set(results["second"]) >= {"second"}


def test_reset_stops_every_trace():
    t = trace().start()
    gs.send(gs.self(), "x")
    gs.reset()
    assert not t.active and k._tracer is None
    n = len(t)
    gs.send(gs.self(), "y")
    assert len(t) == n
    t.stop()            # idempotent after reset


def test_only_keeps_the_events_of_the_named_processes(uname):
    name = uname("stack")
    a = sc.Stack.start_link([1], name=name)
    b = sc.Stack.start_link([1])
    with trace(only=name) as t:
        gs.call(a, "size")
        gs.call(b, "size")
    assert t.events and all(a in (e.pid, e.peer) for e in t.events)
    with trace(only=[b]) as t2:
        gs.call(a, "size")
        gs.call(b, "size")
    assert t2.events and all(b in (e.pid, e.peer) for e in t2.events)


@pytest.mark.parametrize("bad, exc", [(42, TypeError), ([gs.self(), 3.5], TypeError), ([], ValueError)])
def test_only_rejects_what_is_not_a_pid_or_name(bad, exc):
    with pytest.raises(exc, match="only="):
        trace(only=bad)


def test_limit_counts_what_it_could_not_keep():
    with pytest.raises(ValueError, match="limit"):
        trace(limit=0)
    with trace(limit=3) as t:
        for i in range(5):
            gs.send(gs.self(), i)
    gs.flush()
    assert len(t) == 3 and t.overflow == 2
    assert "2 events over the limit" in repr(t)


def test_a_trace_cannot_start_twice():
    with trace() as t:
        with pytest.raises(RuntimeError, match="already recording"):
            t.start()


def test_wait_for_returns_the_matching_event_or_fails_clearly():
    with trace() as t:
        pid = sc.Stack.start_link([])
        gs.cast(pid, ("push", 1))
        ev = t.wait_for(lambda e: e.event == "receive" and e.pid is pid and e.data[0] == "$gen_cast")
        assert ev.data == ("$gen_cast", ("push", 1))
        with pytest.raises(AssertionError, match="no traced event matched"):
            t.wait_for(lambda e: e.event == "exit", timeout=0.02)
        with pytest.raises(TypeError, match="predicate"):
            t.wait_for("exit")


# -- what the events mean ---------------------------------------------------------------------

def test_calls_pair_with_their_replies_and_sends_with_their_receives():
    t = sc.call_and_cast()
    calls = t.calls()
    assert len(calls) == 1
    call, reply = calls[0]
    assert call.label == "call pop" and reply.label == "reply 2"
    assert reply.pair is call and reply.sender is call.receiver and reply.receiver is call.sender
    for m in t.messages():
        assert m.received is not None and m.received.data is m.msg


def test_deferred_reply_from_another_process_pairs_with_its_call():
    t = sc.deferred_reply()
    [(call, reply)] = [c for c in t.calls() if c[0].kind == "call"]
    assert reply is not None and reply.sender is not call.receiver
    assert t.name(reply.sender) == "_worker#1" and reply.label == "reply 42"


def test_a_timed_out_call_is_marked_and_its_late_reply_dropped():
    t = sc.timeout()
    [(call, reply)] = t.calls()
    assert call.timed_out == 0.05
    assert reply.dropped and reply.label == "reply 'late' (dropped)"
    assert any(e.event == "timeout" for e in t.events)


def test_names_are_registered_names_or_class_counters_never_pids(uname):
    name = uname("named")
    with trace() as t:
        a = sc.Stack.start_link([])
        b = sc.Stack.start_link([])
        c = sc.Stack.start_link([], name=name)
    assert [t.name(p) for p in (gs.self(), a, b, c)] == ["shell", "Stack#1", "Stack#2", name]
    assert "<0." not in t.to_mermaid()


def test_labels_read_like_elixir():
    assert message_label(("$gen_call", (gs.self(), gs.make_ref()), "pop"), "call") == "call pop"
    assert message_label(("$gen_cast", ("push", 2)), "cast") == "cast push(2)"
    assert message_label((gs.make_ref(), 2), "reply") == "reply 2"
    assert message_label("tick", "info") == "info :tick"
    assert message_label(("tick", 3), "timer") == "timer tick(3)"
    assert message_label(("EXIT", gs.self(), "boom"), "exit") == "EXIT boom"
    assert message_label(("DOWN", gs.make_ref(), "process", gs.self(), "normal"), "down") == "DOWN normal"
    assert message_label(("$system", None, "get_state"), "system") == "sys get_state"
    assert reason_text(RuntimeError("bad")) == "RuntimeError: bad"
    assert reason_text(("shutdown", "app")) == "shutdown('app')"
    assert len(message_label(("$gen_cast", ("put", "x" * 100)), "cast")) <= 30
    assert truncate("a\nb") == "a b"
    assert process_label("test_x.<locals>.worker") == "worker"
    assert process_label("Task:mod.fetch") == "Task:fetch"


def test_pids_inside_messages_are_shown_by_name():
    with trace() as t:
        pid = sc.Stack.start_link([])
        gs.cast(pid, ("push", gs.self()))
    [cast] = t.messages("cast")
    assert cast.label == "cast push(shell)"


def test_summary_and_jupyter_bundle():
    t = sc.call_and_cast()
    assert t.summary() == "Trace of 2 processes (shell, Stack#1): 1 system, 1 cast, 1 call, 1 reply"
    bundle = t._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"] == t.to_mermaid()
    assert bundle["image/png"].startswith(b"\x89PNG")
    assert set(t._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}


# -- Mermaid: counts, determinism, golden texts ------------------------------------------------

def _arrows(text: str) -> list[str]:
    import re
    return [ln for ln in text.splitlines() if re.match(r"\s+\w+(->>|-->>|-\)|--\)|-x|--x)[+-]?\w+:", ln)]


def test_mermaid_has_one_arrow_per_traced_message():
    t, _ = sc.one_for_all()
    events = t.events
    sends = sum(1 for e in events if e.event == "send")
    reply_drops = sum(1 for e in events if e.event == "drop" and e.peer is not None)
    hidden = len(t.model.hidden)
    signals = sum(1 for i in t.model.items if type(i).__name__ == "Signal")
    assert len(_arrows(t.to_mermaid())) == sends + reply_drops - hidden + signals
    assert len(t.messages()) == sends + reply_drops - hidden


def _golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.mmd"
    if os.environ.get("GOLDEN_UPDATE"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with GOLDEN_UPDATE=1 once and review it"
    assert text == path.read_text(), f"Mermaid text differs from {path}"


@pytest.mark.parametrize("name", ["call_and_cast", "deferred_reply", "timeout", "crash_restart",
                                  "one_for_all"])
def test_golden_mermaid_and_identical_twice(name):
    texts = []
    for _ in range(2):
        gs.reset()
        t = getattr(sc, name)()
        texts.append((t[0] if isinstance(t, tuple) else t).to_mermaid())
    assert texts[0] == texts[1]
    _golden(name, texts[0])


def test_restart_storm_escalates_and_is_deterministic():
    texts = []
    for _ in range(2):
        gs.reset()
        with FakeClock() as clock:
            texts.append(sc.restart_storm(clock).to_mermaid())
    assert texts[0] == texts[1]
    assert "B exited (crash 4): escalate" in texts[0]
    assert "intensity reached: shutting down" in texts[0]
    assert texts[0].count("restarted B") == 3

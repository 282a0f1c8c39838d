"""Property-based tests: the runtime against small, plain models of what OTP promises.

Hypothesis generates the cases; each property compares the runtime with a
model written here in a few lines of plain Python, independent of the
implementation:

* selective receive keeps the order of the messages it skips (a list);
* a call returns its own reply whatever else is in, or arrives in, the
  caller's mailbox, and leaves all of that in order;
* Registry operations, with processes dying, agree with a list of entries
  (keys compared strictly, as Elixir's ``===``);
* restart intensity agrees with OTP's rule, as ``supervisor.erl`` writes it:
  keep the restarts at or after ``now - period``, add ``now``, give up when
  there are more than ``intensity``. Crash times come from a FakeClock.

Settings are bounded and derandomized with no example database, so CI runs
the same examples every time; the example counts are in
``docs/reliability.md``.
"""

import itertools
from collections import Counter
from fractions import Fraction

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

import genserver_lite as gs
from genserver_lite.testing import FakeClock, assert_receive

LONG = 5.0


def bounded(n, **kw):
    """Hypothesis settings for CI: n examples, no deadline, same examples every run."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                    **kw)


def in_process(fn, *args):
    """Run ``fn(*args)`` in a new process and return its result (or raise what it raised)."""
    me = gs.self()

    def body():
        try:
            gs.send(me, ("result", gs.self(), "ok", fn(*args)))
        except BaseException as e:  # noqa: BLE001 - reported to the test
            gs.send(me, ("result", gs.self(), "error", e))
    pid = gs.spawn(body)
    _, _, kind, value = assert_receive(("result", pid, ...), LONG)
    if kind == "error":
        raise value
    return value


# == selective receive ===================================================================================

class PredicateFailed(Exception):
    """What a generated predicate raises on its chosen message."""


def predicate(spec):
    """A receive pattern from its description (so the model can evaluate the same one)."""
    kind = spec[0]
    if kind == "any":
        return None
    if kind == "mod":
        _, k, r = spec
        return lambda m: type(m) is int and m % k == r
    if kind == "eq":
        return lambda m: m == spec[1]
    if kind == "tuple":
        return lambda m: type(m) is tuple
    if kind == "raises_on":        # a predicate that raises: the receive raises, nothing is taken
        def pred(m):
            if m == spec[1]:
                raise PredicateFailed(m)
            return type(m) is str
        return pred
    raise AssertionError(spec)


messages = st.one_of(st.integers(0, 30), st.sampled_from(["a", "b", "c"]),
                     st.tuples(st.sampled_from(["t", "u"]), st.integers(0, 3)))
predicates = st.one_of(st.just(("any",)), st.tuples(st.just("mod"), st.integers(2, 4), st.integers(0, 1)),
                       st.tuples(st.just("eq"), messages), st.just(("tuple",)),
                       st.tuples(st.just("raises_on"), messages))
operations = st.lists(st.one_of(st.tuples(st.just("send"), messages),
                                st.tuples(st.just("receive"), predicates),
                                st.just(("flush",))), max_size=40)


def run_mailbox(ops):
    """Apply ``ops`` to the calling process's own mailbox; what each op returned."""
    me = gs.self()
    out = []
    for op in ops:
        if op[0] == "send":
            gs.send(me, op[1])
            out.append("sent")
        elif op[0] == "receive":
            try:
                out.append(("got", gs.receive(predicate(op[1]), 0)))
            except gs.ReceiveTimeout:
                out.append("none")
            except PredicateFailed as e:
                out.append(("raised", e.args[0]))
        else:
            out.append(("flushed", gs.flush()))
    out.append(("flushed", gs.flush()))
    return out


def model_mailbox(ops):
    """The same ops on a list: a receive takes the oldest message its pattern accepts."""
    box, out = [], []
    for op in ops:
        if op[0] == "send":
            box.append(op[1])
            out.append("sent")
        elif op[0] == "receive":
            pred, result = predicate(op[1]), "none"
            for i, m in enumerate(box):
                try:
                    ok = pred is None or pred(m)
                except PredicateFailed as e:
                    result = ("raised", e.args[0])
                    break
                if ok:
                    result = ("got", box.pop(i))
                    break
            out.append(result)
        else:
            out.append(("flushed", box))
            box = []
    out.append(("flushed", box))
    return out


@bounded(150)
@given(ops=operations)
def test_selective_receive_keeps_the_order_of_what_it_skips(ops):
    gs.reset()
    expected = model_mailbox(ops)
    assert run_mailbox(ops) == expected                 # a shell: the notebook's thread
    assert in_process(run_mailbox, ops) == expected     # a process: its own thread and fast path


# == calls amid other messages ==================================================================================

class Chatty(gs.GenServer):
    """Sends the caller some messages of its own before replying."""

    def init(self, _):
        return ("ok", 0)

    def handle_call(self, request, from_, n):
        tag, chatter = request
        for m in chatter:
            gs.send(from_[0], m)
        return ("reply", (tag, n), n + 1)


def junk():
    """Messages a caller may hold, shaped like replies, DOWNs and EXITs of other calls."""
    other_ref = st.builds(gs.make_ref)
    return st.one_of(
        st.integers(0, 9), st.just(()), st.tuples(other_ref), st.tuples(other_ref, st.integers(0, 9)),
        st.tuples(st.just("DOWN"), other_ref, st.just("process"), st.just(None), st.just("normal")),
        st.tuples(st.just("EXIT"), st.just(None), st.just("normal")), st.just(("$gen_call",)),
    )


def call_amid(before, during):
    me = gs.self()
    pid = Chatty.start()
    for m in before:
        gs.send(me, m)
    tag = gs.make_ref()
    got = gs.call(pid, (tag, during), LONG)
    left = gs.flush()
    gs.stop(pid)
    return got[0] is tag, left, me._proc.aliases == {}, gs.info(me)["monitors"]


@bounded(80)
@given(before=st.lists(junk(), max_size=6), during=st.lists(junk(), max_size=6))
def test_a_call_takes_only_its_reply_and_leaves_everything_else_in_order(before, during):
    gs.reset()
    for result in (call_amid(before, during), in_process(call_amid, before, during)):
        mine, left, no_alias, monitors = result
        assert mine
        assert len(left) == len(before) + len(during)
        assert all(a is b for a, b in zip(left, before + during))      # the same objects, in order
        assert no_alias and monitors == []


# == Registry against a list of entries =========================================================================

KEYS = [0, 1, 1.0, True, False, "1", "a", (1,), (1.0,), (True,), ("a", 1)]


def strict(key):
    """A key as a model compares it: its type is part of it, inside tuples too (Elixir's ===)."""
    if type(key) is tuple:
        return (tuple, tuple(strict(k) for k in key))
    return (type(key), key)


def agent(reg):
    """A process that does Registry writes for the test, in its own name, one request at a time."""
    from genserver_lite import Registry
    while True:
        msg = gs.receive()
        if msg == "quit":
            return
        op, args, who = msg
        try:
            r = getattr(Registry, op)(reg, *args)
            gs.send(who, ("done", gs.self(), "ok", r))
        except Exception as e:  # noqa: BLE001 - the model checks which exception
            gs.send(who, ("done", gs.self(), "error", e))


_registries = itertools.count(1)


class RegistryModel(RuleBasedStateMachine):
    """A registry (unique or duplicate, 1 or 3 partitions) and a list of (key, pid, value) entries."""

    holders = Bundle("holders")

    def __init__(self):
        super().__init__()
        gs.reset()
        self.reg = f"prop-registry-{next(_registries)}"
        self.entries = []          # (key, pid, value), in registration order
        self.live = set()
        self.unique = True
        self.monitors = {}

    @initialize(kind=st.sampled_from(["unique", "duplicate"]), partitions=st.sampled_from([1, 3]))
    def start(self, kind, partitions):
        gs.Registry.start(kind, name=self.reg, partitions=partitions)
        self.unique = kind == "unique"

    def ask(self, pid, op, *args):
        gs.send(pid, (op, args, gs.self()))
        _, _, kind, value = assert_receive(("done", pid, ...), LONG)
        return kind, value

    def holds(self, pid, key):
        return [e for e in self.entries if e[1] is pid and strict(e[0]) == strict(key)]

    @rule(target=holders)
    def spawn_holder(self):
        pid = gs.spawn(agent, self.reg)
        self.live.add(pid)
        self.monitors[pid] = gs.monitor(pid)
        return pid

    @rule(pid=holders, key=st.sampled_from(KEYS), value=st.integers(0, 5))
    def register(self, pid, key, value):
        if pid not in self.live:
            return
        kind, got = self.ask(pid, "register", key, value)
        taken = [e for e in self.entries if strict(e[0]) == strict(key)] if self.unique else []
        if taken:
            assert kind == "error" and isinstance(got, gs.AlreadyRegistered)
            assert got.pid is taken[0][1] and got.key is key
        else:
            assert (kind, got) == ("ok", None)
            self.entries.append((key, pid, value))

    @rule(pid=holders, key=st.sampled_from(KEYS))
    def unregister(self, pid, key):
        if pid not in self.live:
            return
        assert self.ask(pid, "unregister", key) == ("ok", None)
        self.entries = [e for e in self.entries if not (e[1] is pid and strict(e[0]) == strict(key))]

    @rule(pid=holders, key=st.sampled_from(KEYS))
    def update_value(self, pid, key):
        if pid not in self.live:
            return
        kind, got = self.ask(pid, "update_value", key, lambda v: v + 10)
        mine = self.holds(pid, key)
        if not self.unique:
            assert kind == "error" and isinstance(got, ValueError)
        elif not mine:
            assert kind == "error" and isinstance(got, KeyError)
        else:
            old = mine[0]
            assert (kind, got) == ("ok", (old[2] + 10, old[2]))
            self.entries[self.entries.index(old)] = (old[0], pid, old[2] + 10)

    @rule(pid=holders)
    def kill(self, pid):
        if pid not in self.live:
            return
        gs.exit(pid, "kill")
        self.die(pid)               # no wait: a dead process's keys are gone when exit() returns

    @rule(pid=holders)
    def exit_normally(self, pid):
        if pid not in self.live:
            return
        gs.send(pid, "quit")
        assert_receive(("DOWN", self.monitors[pid], "process", pid, "normal"), LONG)
        self.die(pid)               # ... and by the time its DOWN arrives

    def die(self, pid):
        self.live.discard(pid)
        self.entries = [e for e in self.entries if e[1] is not pid]

    # -- what every read must agree on, after every step --------------------------------------------

    @staticmethod
    def bag(rows):
        return Counter(tuple(strict(x) if i == 0 else (x.id if type(x) is gs.Pid else x)
                             for i, x in enumerate(row)) for row in rows)

    @invariant()
    def reads_agree_with_the_model(self):
        if not hasattr(self, "reg") or gs.whereis(self.reg) is None:
            return
        Registry = gs.Registry
        assert Registry.count(self.reg) == len(self.entries)
        assert self.bag(Registry.select(self.reg)) == self.bag(self.entries)
        even = lambda k, p, v: v % 2 == 0     # noqa: E731
        assert self.bag(Registry.select(self.reg, even)) == self.bag(e for e in self.entries if even(*e))
        for key in KEYS:
            want = [(None, e[1], e[2]) for e in self.entries if strict(e[0]) == strict(key)]
            got = [(None, p, v) for p, v in Registry.lookup(self.reg, key)]
            assert Counter((p.id, v) for _, p, v in got) == Counter((p.id, v) for _, p, v in want), key
            seen = []
            Registry.dispatch(self.reg, key, seen.append)
            assert seen == ([Registry.lookup(self.reg, key)] if want else [])
        for pid in self.monitors:
            mine = [e for e in self.entries if e[1] is pid]
            assert Counter(map(strict, Registry.keys(self.reg, pid))) == Counter(strict(e[0]) for e in mine)
            for key in KEYS:
                assert sorted(Registry.values(self.reg, key, pid)) == sorted(
                    e[2] for e in mine if strict(e[0]) == strict(key))

    def teardown(self):
        gs.reset()


RegistryModel.TestCase.settings = bounded(30, stateful_step_count=30)
test_registry_agrees_with_a_list_of_entries = RegistryModel.TestCase


# == restart intensity against OTP's rule ============================================================

def otp_gives_up_at(times, intensity, period):
    """OTP's ``supervisor:add_restart/3``: the index of the crash the supervisor does not survive, or None.

    Restarts are kept newest first; each crash drops those before ``now - period``,
    adds ``now``, and the supervisor terminates when more than ``intensity`` remain.
    """
    restarts = []
    for i, now in enumerate(times):
        restarts = [now] + [r for r in restarts if r >= now - period]
        if len(restarts) > intensity:
            return i
    return None


class Worker(gs.GenServer):
    def init(self, arg):
        return ("ok", arg)


def child_pid(sup, dynamic):
    rows = (gs.DynamicSupervisor if dynamic else gs.Supervisor).which_children(sup)
    assert len(rows) == 1
    return rows[0][1]


QUARTERS = st.integers(0, 16).map(lambda q: Fraction(q, 4))      # exact in binary: boundaries are hit exactly


@bounded(80)
@given(intensity=st.integers(0, 4), period=st.sampled_from([Fraction(1, 2), 1, 2, 5]),
       gaps=st.lists(QUARTERS, min_size=1, max_size=12), dynamic=st.booleans())
def test_restart_intensity_follows_otps_rule(intensity, period, gaps, dynamic):
    gs.reset()
    times = list(itertools.accumulate(gaps))
    expected = otp_gives_up_at(times, intensity, period)
    event("gives up" if expected is not None else "survives")
    event("a crash exactly one period after a counted one" if any(
        b - a == period for a, b in itertools.combinations(times, 2)) else "no crash on the boundary")
    with FakeClock() as clock:
        if dynamic:
            sup = gs.DynamicSupervisor.start(max_restarts=intensity, max_seconds=float(period))
            gs.DynamicSupervisor.start_child(sup, Worker)
        else:
            sup = gs.Supervisor.start([Worker], max_restarts=intensity, max_seconds=float(period))
        ref = gs.monitor(sup)
        gave_up = None
        for i, gap in enumerate(gaps):
            clock.advance(float(gap))
            assert clock.now() == times[i]
            old = child_pid(sup, dynamic)
            gs.exit(old, "kill")                 # the EXIT is in the supervisor's mailbox before our call
            try:
                new = child_pid(sup, dynamic)
            except gs.Exit:
                gave_up = i
                break
            assert new is not old and gs.alive(new)
        if gave_up is not None:
            assert_receive(("DOWN", ref, "process", sup, "shutdown"), LONG)
        assert gave_up == expected, f"crash times {times}, intensity {intensity} in {period} s"
    gs.reset()

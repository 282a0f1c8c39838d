"""gs.Registry: unique and duplicate keys, partitions, synchronous cleanup, via names.

Ported from the behaviours of Elixir's ``registry_test.exs`` and
``registry/unique_test.exs`` / ``registry/duplicate_test.exs``, plus what this
registry promises beyond Elixir: a dead process's keys are gone before its
monitors fire, and reads never go through the registry process.
"""

import pytest

import genserver_lite as gs
from genserver_lite.registry import Registry
from genserver_lite.testing import assert_receive, refute_receive

PARTITIONS = [1, 8]


@pytest.fixture(params=PARTITIONS, ids=lambda n: f"{n}p")
def unique(request, uname):
    name = uname("ureg")
    Registry.start("unique", name=name, partitions=request.param)
    return name


@pytest.fixture(params=PARTITIONS, ids=lambda n: f"{n}p")
def duplicate(request, uname):
    name = uname("dreg")
    Registry.start("duplicate", name=name, partitions=request.param)
    return name


def _hold(reg, key, value, parent):
    try:
        Registry.register(reg, key, value)
        gs.send(parent, ("registered", gs.self()))
    except Exception as e:  # noqa: BLE001 - reported to the test
        gs.send(parent, ("failed", e))
    gs.receive(lambda m: m == "quit")


def register_task(reg, key, value=None):
    """A process that registers ``key`` and then waits (Elixir's register_task helper)."""
    pid = gs.spawn(_hold, reg, key, value, gs.self())
    assert assert_receive(("registered", pid), timeout=2.0)
    return pid


def kill_and_wait(pid):
    ref = gs.monitor(pid)
    gs.exit(pid, "kill")
    assert_receive(("DOWN", ref, "process", pid, ...), timeout=2.0)


class Echo(gs.GenServer):
    def init(self, arg):
        if arg == "crash":
            raise RuntimeError("init crashed on purpose")
        return ("ok", arg)

    def handle_call(self, request, from_, state):
        match request:
            case "get":
                return ("reply", state, state)
            case ("lookup", reg, key):
                return ("reply", Registry.lookup(reg, key), state)

    def handle_cast(self, request, state):
        match request:
            case ("set", value):
                return ("noreply", value)

    def handle_info(self, msg, state):
        return ("noreply", ("info", msg))


# -- starting --------------------------------------------------------------------------

def test_registry_is_a_named_process_with_its_behaviour(uname):
    name = uname("reg")
    pid = Registry.start_link("unique", name=name, partitions=3)
    assert gs.whereis(name) is pid
    info = gs.info(pid)
    assert info["behaviour"] == "Registry"
    assert info["trap_exit"] is True
    assert gs.self() in info["links"]
    state = gs.sys.get_state(pid)
    assert (state.name, state.kind, state.n) == (name, "unique", 3)
    assert Registry.count(name) == 0
    assert Registry.count(pid) == 0    # a registry may also be named by its pid


def test_a_taken_registry_name_is_already_started(uname):
    name = uname("reg")
    pid = Registry.start("unique", name=name)
    with pytest.raises(gs.StartError) as e:
        Registry.start("duplicate", name=name)
    assert e.value.reason == ("already_started", pid)
    assert gs.sys.get_state(name).kind == "unique"


def test_child_spec_starts_a_registry(uname):
    name = uname("reg")
    spec = Registry.child_spec({"keys": "duplicate", "name": name, "partitions": 2})
    assert spec["id"] == name and spec["type"] == "worker" and spec["modules"] == ["Registry"]
    fn, args = spec["start"]
    pid = fn(*args)
    assert gs.whereis(name) is pid
    assert gs.sys.get_state(pid).kind == "duplicate"
    assert gs.sys.get_state(pid).n == 2


# -- unique keys -------------------------------------------------------------------------

def test_unique_counts_keys(unique):
    assert Registry.count(unique) == 0
    Registry.register(unique, "hello", "value")
    Registry.register(unique, "world", "value")
    assert Registry.count(unique) == 2


def test_unique_registrations(unique):
    me = gs.self()
    assert Registry.register(unique, "hello", "value") is None
    assert Registry.keys(unique, me) == ["hello"]
    assert Registry.values(unique, "hello", me) == ["value"]
    with pytest.raises(gs.AlreadyRegistered) as e:
        Registry.register(unique, "hello", "other")
    assert e.value.pid is me and e.value.key == "hello"
    assert "hello" in str(e.value) and unique in str(e.value)
    assert Registry.keys(unique, me) == ["hello"]
    assert Registry.values(unique, "hello", me) == ["value"]
    assert Registry.count(unique) == 1          # a refused registration adds nothing
    Registry.register(unique, "world", "value")
    assert sorted(Registry.keys(unique, me)) == ["hello", "world"]
    assert Registry.count(unique) == 2


def test_unique_registrations_across_processes(unique):
    task = register_task(unique, "hello", "value")
    assert Registry.keys(unique, task) == ["hello"]
    assert Registry.values(unique, "hello", task) == ["value"]
    with pytest.raises(gs.AlreadyRegistered) as e:
        Registry.register(unique, "hello", "recent")
    assert e.value.pid is task
    assert Registry.keys(unique, gs.self()) == []
    assert Registry.values(unique, "hello", gs.self()) == []
    assert Registry.lookup(unique, "hello") == [(task, "value")]
    assert Registry.count(unique) == 1


def test_unique_keys_compare_strictly(unique):
    Registry.register(unique, 1, "int")
    Registry.register(unique, 1.0, "float")
    Registry.register(unique, True, "bool")
    Registry.register(unique, (1, "a"), "tuple of int")
    Registry.register(unique, (1.0, "a"), "tuple of float")
    assert Registry.lookup(unique, 1) == [(gs.self(), "int")]
    assert Registry.lookup(unique, 1.0) == [(gs.self(), "float")]
    assert Registry.lookup(unique, True) == [(gs.self(), "bool")]
    assert Registry.lookup(unique, (1.0, "a")) == [(gs.self(), "tuple of float")]
    assert Registry.count(unique) == 5
    keys = Registry.keys(unique, gs.self())
    assert [type(x) for x in keys].count(float) == 1 and [type(x) for x in keys].count(bool) == 1


def test_unique_update_value(unique):
    with pytest.raises(KeyError, match="does not hold key 'hello'"):
        Registry.update_value(unique, "hello", lambda v: v + 1)
    owner = register_task(unique, "hello", 1)
    with pytest.raises(KeyError, match=repr(owner)):
        Registry.update_value(unique, "hello", lambda v: v + 1)
    assert Registry.lookup(unique, "hello") == [(owner, 1)]

    Registry.register(unique, "world", 1)
    assert Registry.update_value(unique, "world", lambda v: v + 1) == (2, 1)
    assert Registry.lookup(unique, "world") == [(gs.self(), 2)]
    with pytest.raises(ZeroDivisionError):
        Registry.update_value(unique, "world", lambda v: v / 0)
    assert Registry.lookup(unique, "world") == [(gs.self(), 2)]


def test_unique_dispatch(unique):
    def never(_entries):
        raise AssertionError("dispatch called fn for a key nobody holds")

    assert Registry.dispatch(unique, "hello", never) is None
    Registry.register(unique, "hello", "value")
    seen = []
    assert Registry.dispatch(unique, "hello", seen.append) is None
    assert seen == [[(gs.self(), "value")]]

    def notify(entries):
        for pid, value in entries:
            gs.send(pid, ("dispatch", value))
    Registry.dispatch(unique, "hello", notify)
    assert_receive(("dispatch", "value"))


def test_unique_unregister(unique):
    me = gs.self()
    assert Registry.unregister(unique, "hello") is None      # nothing held: not an error
    Registry.register(unique, "hello", "value")
    Registry.register(unique, "world", "value")
    assert sorted(Registry.keys(unique, me)) == ["hello", "world"]
    Registry.unregister(unique, "hello")
    assert Registry.keys(unique, me) == ["world"]
    assert Registry.lookup(unique, "hello") == []
    Registry.unregister(unique, "world")
    assert Registry.keys(unique, me) == []
    assert Registry.count(unique) == 0
    Registry.register(unique, "hello", "again")
    assert Registry.lookup(unique, "hello") == [(me, "again")]


def test_unregister_does_not_touch_another_processes_key(unique):
    owner = register_task(unique, "hello", "theirs")
    Registry.unregister(unique, "hello")
    assert Registry.lookup(unique, "hello") == [(owner, "theirs")]


# -- death: entries leave with the process, before its monitors fire ---------------------

def test_dead_process_entries_are_gone_before_its_down_arrives(unique):
    owner = register_task(unique, "hello", "value")
    Registry.register(unique, "mine", "stays")
    gs.sys.suspend(unique)     # a registry that cannot run cannot be the one cleaning up
    ref = gs.monitor(owner)
    gs.exit(owner, "kill")
    msg = gs.receive(lambda m: type(m) is tuple and m[0] == "DOWN" and m[1] is ref, timeout=2.0)
    assert Registry.lookup(unique, "hello") == []
    assert Registry.keys(unique, owner) == []
    Registry.register(unique, "hello", "other")
    assert Registry.lookup(unique, "hello") == [(gs.self(), "other")]
    assert Registry.lookup(unique, "mine") == [(gs.self(), "stays")]
    assert msg[4] == "killed"
    gs.sys.resume(unique)


def test_a_genserver_sees_the_key_gone_when_its_down_arrives(unique):
    class Watcher(gs.GenServer):
        def init(self, arg):
            reg, target = arg
            gs.monitor(target)
            return ("ok", (reg, None))

        def handle_info(self, msg, state):
            reg, _ = state
            if msg[0] == "DOWN":
                return ("noreply", (reg, Registry.lookup(reg, "hello")))
            return ("noreply", state)

        def handle_call(self, request, from_, state):
            return ("reply", state[1], state)

    owner = register_task(unique, "hello", "value")
    watcher = Watcher.start((unique, owner))
    assert gs.call(watcher, "seen") is None
    gs.send(owner, "quit")      # a normal exit: no link kills anyone
    gs.testing.wait_until(lambda: not gs.alive(owner))
    gs.testing.wait_until(lambda: gs.call(watcher, "seen") is not None)
    assert gs.call(watcher, "seen") == []


def test_registry_links_and_unlinks(unique):
    me = gs.self()
    reg = gs.whereis(unique)
    Registry.register(unique, "hello", "value")
    assert reg in gs.info(me)["links"]
    Registry.register(unique, "world", "value")
    Registry.unregister(unique, "hello")
    assert reg in gs.info(me)["links"]
    Registry.unregister(unique, "world")
    assert reg not in gs.info(me)["links"]


def test_unregister_keeps_a_link_the_registry_did_not_make(uname):
    name = uname("reg")
    reg = Registry.start_link("unique", name=name)
    Registry.register(name, "hello")
    Registry.unregister(name, "hello")
    assert reg in gs.info(gs.self())["links"]


def test_registrant_exits_reach_the_registry_harmlessly(unique):
    owner = gs.spawn(_hold, unique, "boom", None, gs.self())
    assert_receive(("registered", owner), timeout=2.0)
    ref = gs.monitor(owner)
    gs.exit(owner, "crash")
    assert_receive(("DOWN", ref, "process", owner, "crash"), timeout=2.0)
    assert gs.alive(gs.whereis(unique))
    assert gs.sys.get_state(unique).alive
    assert Registry.lookup(unique, "boom") == []


def test_a_registry_crash_takes_its_registrants_down(uname):
    name = uname("reg")
    reg = Registry.start("unique", name=name)
    member = register_task(name, "hello")
    bystander = gs.spawn(gs.receive)
    mref, bref = gs.monitor(member), gs.monitor(bystander)
    gs.exit(reg, "kill")
    assert_receive(("DOWN", mref, "process", member, "killed"), timeout=2.0)
    refute_receive(("DOWN", bref, "process", bystander, ...), timeout=0.05)
    assert gs.alive(bystander)


def test_a_dead_registrys_name_raises_noproc_and_can_be_reused(uname):
    name = uname("reg")
    reg = Registry.start("unique", name=name)
    Registry.register(name, "hello", 1)
    gs.stop(reg)
    for call in (lambda: Registry.lookup(name, "hello"), lambda: Registry.register(name, "x"),
                 lambda: Registry.count(name), lambda: Registry.keys(name, gs.self()),
                 lambda: Registry.unregister(name, "hello"), lambda: Registry.select(name),
                 lambda: Registry.lookup(reg, "hello")):
        with pytest.raises(gs.NoProc, match="no registry is running"):
            call()
    Registry.start("duplicate", name=name)
    assert Registry.count(name) == 0
    Registry.register(name, "hello", 2)
    Registry.register(name, "hello", 3)
    assert Registry.lookup(name, "hello") == [(gs.self(), 2), (gs.self(), 3)]


def test_unknown_registry_raises_noproc(uname):
    name = uname("nothing")
    with pytest.raises(gs.NoProc, match=name):
        Registry.register(name, "hello", "value")
    with pytest.raises(gs.NoProc):
        Registry.lookup(name, "hello")
    with pytest.raises(gs.NoProc):
        Registry.lookup(gs.spawn(gs.receive), "hello")    # a pid, but not a registry's


def test_reads_and_writes_do_not_queue_behind_the_registry_process(unique):
    gs.sys.suspend(unique)
    other = register_task(unique, "other", 0)
    Registry.register(unique, "hello", 1)
    assert Registry.lookup(unique, "hello") == [(gs.self(), 1)]
    assert Registry.keys(unique, other) == ["other"]
    assert Registry.values(unique, "hello", gs.self()) == [1]
    assert Registry.count(unique) == 2
    assert len(Registry.select(unique)) == 2
    assert Registry.update_value(unique, "hello", lambda v: v + 1) == (2, 1)
    Registry.unregister(unique, "hello")
    assert Registry.count(unique) == 1
    gs.sys.resume(unique)


def test_one_process_in_two_registries(uname):
    a, b = uname("a"), uname("b")
    reg_a = Registry.start("unique", name=a)
    Registry.start("duplicate", name=b)
    parent = gs.self()
    owner = gs.spawn(lambda: (Registry.register(a, "k", "a"), Registry.register(b, "k", "b"),
                              gs.send(parent, "ok"), gs.receive()))
    assert_receive("ok", timeout=2.0)
    assert Registry.lookup(a, "k") == [(owner, "a")] and Registry.lookup(b, "k") == [(owner, "b")]
    gs.stop(reg_a, "normal")     # a normal exit signal does not take the registrant down
    assert gs.alive(owner)
    kill_and_wait(owner)
    assert Registry.lookup(b, "k") == []


# -- duplicate keys ------------------------------------------------------------------------

def test_duplicate_registrations(duplicate):
    me = gs.self()
    Registry.register(duplicate, "hello", "value")
    assert Registry.keys(duplicate, me) == ["hello"]
    assert Registry.values(duplicate, "hello", me) == ["value"]
    Registry.register(duplicate, "hello", "value")
    assert Registry.keys(duplicate, me) == ["hello", "hello"]
    assert Registry.values(duplicate, "hello", me) == ["value", "value"]
    Registry.register(duplicate, "world", "value")
    assert sorted(Registry.keys(duplicate, me)) == ["hello", "hello", "world"]
    assert Registry.count(duplicate) == 3


def test_duplicate_registrations_across_processes(duplicate):
    task = register_task(duplicate, "hello", "world")
    assert Registry.keys(duplicate, gs.self()) == []
    assert Registry.keys(duplicate, task) == ["hello"]
    assert Registry.values(duplicate, "hello", task) == ["world"]
    Registry.register(duplicate, "hello", "value")
    assert Registry.values(duplicate, "hello", gs.self()) == ["value"]
    assert sorted(Registry.lookup(duplicate, "hello"), key=lambda e: e[1]) == \
        [(gs.self(), "value"), (task, "world")]
    kill_and_wait(task)
    assert Registry.lookup(duplicate, "hello") == [(gs.self(), "value")]
    assert Registry.count(duplicate) == 1


def test_duplicate_keys_compare_strictly(duplicate):
    Registry.register(duplicate, 1.0, "float")
    Registry.register(duplicate, 1, "int")
    assert sorted(Registry.keys(duplicate, gs.self()), key=repr) == [1, 1.0]
    assert Registry.lookup(duplicate, 1) == [(gs.self(), "int")]


def test_duplicate_dispatch_reaches_every_entry_of_the_key(duplicate):
    gs.trap_exit(True)

    def never(_entries):
        raise AssertionError("dispatch called fn for a key nobody holds")
    Registry.dispatch(duplicate, "hello", never)
    others = [register_task(duplicate, "hello", f"task{i}") for i in range(3)]
    Registry.register(duplicate, "hello", "value1")
    Registry.register(duplicate, "hello", "value2")
    Registry.register(duplicate, "world", "value3")
    calls = []

    def fn(entries):
        calls.append(len(entries))
        for pid, value in entries:
            if pid is gs.self():
                gs.send(pid, ("dispatch", value))
    Registry.dispatch(duplicate, "hello", fn)
    assert calls == [5]
    assert_receive(("dispatch", "value1"))
    assert_receive(("dispatch", "value2"))
    refute_receive(("dispatch", "value3"), timeout=0.01)
    Registry.dispatch(duplicate, "world", fn)
    assert_receive(("dispatch", "value3"))
    refute_receive(("EXIT", ..., ...), timeout=0.01)
    assert len(others) == 3


def test_duplicate_unregister_removes_every_entry_of_the_caller(duplicate):
    other = register_task(duplicate, "hello", "theirs")
    Registry.register(duplicate, "hello", "value")
    Registry.register(duplicate, "hello", "value")
    Registry.register(duplicate, "world", "value")
    Registry.unregister(duplicate, "hello")
    assert Registry.keys(duplicate, gs.self()) == ["world"]
    assert Registry.lookup(duplicate, "hello") == [(other, "theirs")]
    Registry.unregister(duplicate, "world")
    assert Registry.keys(duplicate, gs.self()) == []
    assert Registry.unregister(duplicate, "nothing") is None
    assert Registry.count(duplicate) == 1


def test_duplicate_update_value_is_refused(duplicate):
    Registry.register(duplicate, "hello", 1)
    with pytest.raises(ValueError, match="unique registries"):
        Registry.update_value(duplicate, "hello", lambda v: v + 1)
    assert Registry.lookup(duplicate, "hello") == [(gs.self(), 1)]


# -- select, partitions, concurrency ---------------------------------------------------

def test_select(unique):
    assert Registry.select(unique) == []
    assert Registry.select(unique, lambda k, p, v: True) == []
    via = ("via", Registry, (unique, "agent"))
    agent = Echo.start(0, name=via)
    Registry.register(unique, "world", "value")
    Registry.register(unique, ("tuple", 1), 42)
    assert sorted(Registry.select(unique), key=repr) == sorted(
        [("agent", agent, None), ("world", gs.self(), "value"), (("tuple", 1), gs.self(), 42)], key=repr)
    assert Registry.select(unique, lambda k, p, v: p is agent) == [("agent", agent, None)]
    assert Registry.select(unique, lambda k, p, v: isinstance(v, int)) == [(("tuple", 1), gs.self(), 42)]
    assert sorted(k for k, _, _ in Registry.select(unique, lambda k, p, v: isinstance(k, str))) == \
        ["agent", "world"]


def test_select_on_duplicate_lists_every_entry(duplicate):
    Registry.register(duplicate, "hello", "value")
    Registry.register(duplicate, "hello", "value")
    assert Registry.select(duplicate) == [("hello", gs.self(), "value")] * 2


@pytest.mark.parametrize("kind", ["unique", "duplicate"])
def test_partitions_shard_without_visible_difference(uname, kind):
    sharded, single = uname("sharded"), uname("single")
    Registry.start(kind, name=sharded, partitions=8)
    Registry.start(kind, name=single, partitions=1)
    parent = gs.self()

    def worker(i):
        for reg in (sharded, single):
            for j in range(10):
                Registry.register(reg, f"k{i}-{j}", (i, j))
                if kind == "duplicate":
                    Registry.register(reg, "topic", i)
        gs.send(parent, ("done", i))
        gs.receive()

    pids = [gs.spawn(worker, i) for i in range(12)]
    for i in range(12):
        assert_receive(("done", i), timeout=5.0)
    for reg in (sharded, single):
        assert Registry.count(reg) == 12 * (20 if kind == "duplicate" else 10)
        for i, pid in enumerate(pids):
            assert sorted(k for k in Registry.keys(reg, pid) if k != "topic") == \
                sorted(f"k{i}-{j}" for j in range(10))
            assert Registry.lookup(reg, f"k{i}-3") == [(pid, (i, 3))]
    assert sorted(Registry.select(sharded), key=repr) == sorted(Registry.select(single), key=repr)
    if kind == "duplicate":
        assert sorted(v for _, v in Registry.lookup(sharded, "topic")) == sorted(list(range(12)) * 10)
    used = [p for p in gs.sys.get_state(sharded).parts if p.size]
    assert len(used) > 1, "partitions=8 put every entry in one shard"
    for pid in pids[::2]:
        kill_and_wait(pid)
    for reg in (sharded, single):
        assert Registry.count(reg) == 6 * (20 if kind == "duplicate" else 10)
        assert all(Registry.keys(reg, pid) == [] for pid in pids[::2])


def test_concurrent_writers_and_readers_stay_consistent(uname):
    name = uname("reg")
    Registry.start("unique", name=name, partitions=4)
    parent = gs.self()

    def churn(i):
        for round_ in range(30):
            Registry.register(name, ("churn", i), round_)
            assert Registry.lookup(name, ("churn", i)) == [(gs.self(), round_)]
            Registry.unregister(name, ("churn", i))
        Registry.register(name, ("final", i), i)
        gs.send(parent, ("done", i))
        gs.receive()

    def reader():
        for _ in range(200):
            assert 0 <= Registry.count(name) <= 16
            assert all(len(Registry.lookup(name, k)) == 1 for k, _, _ in Registry.select(name)
                       if k[0] == "final")
            gs.sleep(0)

    readers = [gs.spawn_monitor(reader) for _ in range(2)]
    for i in range(8):
        gs.spawn(churn, i)
    for i in range(8):
        assert_receive(("done", i), timeout=5.0)
    assert Registry.count(name) == 8
    assert sorted(k for k, _, _ in Registry.select(name)) == [("final", i) for i in range(8)]
    for pid, ref in readers:
        assert_receive(("DOWN", ref, "process", pid, "normal"), timeout=5.0)


# -- via names ---------------------------------------------------------------------------

def test_via_callbacks(unique):
    name = ("via", Registry, (unique, "hello"))
    pid = Echo.start_link(0, name=name)
    assert Registry.lookup(unique, "hello") == [(pid, None)]
    assert gs.whereis(name) is pid
    assert Registry.whereis_name((unique, "hello")) is pid
    gs.cast(name, ("set", 1))
    assert gs.call(name, "get") == 1
    assert gs.sys.get_state(name) == 1
    gs.send(name, "ping")
    assert gs.call(name, "get") == ("info", "ping")
    with pytest.raises(gs.StartError) as e:
        Echo.start(0, name=name)
    assert e.value.reason == ("already_started", pid)
    ref = gs.monitor(name)
    gs.stop(name)
    assert_receive(("DOWN", ref, "process", pid, "normal"))
    assert gs.whereis(name) is None
    assert Registry.whereis_name((unique, "hello")) is None
    with pytest.raises(gs.NoProc, match="'hello'"):
        gs.send(name, "ping")
    with pytest.raises(gs.NoProc):
        gs.call(name, "get")
    gs.cast(name, ("set", 2))    # a cast never raises
    with pytest.raises(gs.NoProc):
        gs.stop(name)


def test_via_uses_the_value_given(unique):
    pid = Echo.start(0, name=("via", Registry, (unique, "hello", "meta")))
    assert Registry.lookup(unique, "hello") == [(pid, "meta")]
    assert gs.whereis(("via", Registry, (unique, "hello", "ignored"))) is pid


def test_via_init_failure_frees_the_key(unique):
    name = ("via", Registry, (unique, "hello"))
    with pytest.raises(gs.StartError) as e:
        Echo.start("crash", name=name)
    assert isinstance(e.value.reason, RuntimeError)
    assert Registry.lookup(unique, "hello") == []
    pid = Echo.start(1, name=name)
    assert gs.call(name, "get") == 1 and gs.whereis(name) is pid


def test_via_name_is_free_for_a_restart_the_moment_the_server_dies(unique):
    name = ("via", Registry, (unique, "worker"))
    first = Echo.start(1, name=name)
    ref = gs.monitor(first)
    gs.exit(first, "kill")
    # the DOWN is the first moment anyone can act on the death: the key must be free then
    assert_receive(("DOWN", ref, "process", first, "killed"))
    second = Echo.start(2, name=name)
    assert second is not first
    assert gs.call(name, "get") == 2
    assert Registry.lookup(unique, "worker") == [(second, None)]


def _supervised_registry_and_server(uname):
    reg = uname("reg")
    via = ("via", Registry, (reg, "worker"))

    def start_worker(arg):
        return Echo.start_link(arg, name=via)

    top = gs.Supervisor.start_link(
        [(Registry, {"keys": "unique", "name": reg, "partitions": 4}),
         {"id": "worker", "start": (start_worker, (7,))}],
        strategy="rest_for_one", max_restarts=50, max_seconds=5.0)
    return top, reg, via


def _replaced(via, old):
    try:
        pid = gs.whereis(via)
    except gs.NoProc:       # the registry itself is being restarted
        return None
    return pid if pid is not None and pid is not old else None


def test_via_named_child_restarted_by_its_supervisor_under_the_same_key(uname):
    top, reg, via = _supervised_registry_and_server(uname)
    assert [row[0] for row in gs.Supervisor.which_children(top)] == [reg, "worker"]
    pid = gs.whereis(via)
    for _ in range(20):
        gs.exit(pid, "kill")
        new = gs.testing.wait_until(lambda: _replaced(via, pid), timeout=2.0)
        assert gs.call(via, "get") == 7
        assert Registry.lookup(reg, "worker") == [(new, None)]
        pid = new
    assert Registry.count(reg) == 1


def test_a_restarted_registry_comes_back_empty_and_its_servers_register_again(uname):
    top, reg, via = _supervised_registry_and_server(uname)
    old_reg, old_worker = gs.whereis(reg), gs.whereis(via)
    wref = gs.monitor(old_worker)
    gs.exit(old_reg, "kill")
    # the registry's link takes the registered server down with it, as in Elixir
    assert_receive(("DOWN", wref, "process", old_worker, "killed"), timeout=2.0)
    new_worker = gs.testing.wait_until(lambda: _replaced(via, old_worker), timeout=2.0)
    assert gs.whereis(reg) is not old_reg
    assert Registry.lookup(reg, "worker") == [(new_worker, None)]
    assert gs.call(via, "get") == 7
    assert gs.alive(top)


def test_via_server_reads_the_registry_from_inside(unique):
    name = ("via", Registry, (unique, "srv"))
    pid = Echo.start(0, name=name)
    assert gs.call(name, ("lookup", unique, "srv")) == [(pid, None)]


def test_via_needs_a_unique_registry(duplicate):
    with pytest.raises(gs.StartError) as e:
        Echo.start(0, name=("via", Registry, (duplicate, "hello")))
    assert isinstance(e.value.reason, ValueError)
    assert "unique registry" in str(e.value.reason)
    with pytest.raises(ValueError, match="unique registry"):
        gs.whereis(("via", Registry, (duplicate, "hello")))
    assert Registry.count(duplicate) == 0


def test_via_with_an_unknown_registry(uname):
    name = ("via", Registry, (uname("nothing"), "hello"))
    with pytest.raises(gs.StartError) as e:
        Echo.start(0, name=name)
    assert e.value.reason == "noproc"     # the NoProc raised in the new process is an exit
    with pytest.raises(gs.NoProc):
        gs.call(name, "get")
    with pytest.raises(gs.NoProc):
        gs.send(name, "hi")


def test_register_name_registers_only_the_caller(unique):
    other = gs.spawn(gs.receive)
    with pytest.raises(ValueError, match="calling process"):
        Registry.register_name((unique, "hello"), other)
    assert Registry.register_name((unique, "hello"), gs.self()) is True
    assert Registry.register_name((unique, "hello"), gs.self()) is False
    Registry.unregister_name((unique, "hello"))
    assert Registry.whereis_name((unique, "hello")) is None


# -- bad input (tests/test_bad_input.py did not exist when this was written) --------------

@pytest.mark.parametrize("keys", ["bogus", "Unique", None, 1, ("unique",)])
def test_bad_keys_option(uname, keys):
    with pytest.raises(ValueError, match="keys="):
        Registry.start_link(keys, name=uname("reg"))


def test_missing_or_bad_registry_name():
    with pytest.raises(ValueError, match="needs name="):
        Registry.start_link("unique")
    with pytest.raises(TypeError, match="needs name="):     # as Python reports a missing argument
        Registry.start(keys="duplicate", partitions=2)
    with pytest.raises(ValueError, match="non-empty"):
        Registry.start_link("unique", name="")
    with pytest.raises(TypeError, match="string"):
        Registry.start_link("unique", name=("via", Registry, ("r", "k")))
    me = gs.self()
    assert gs.processes() == [me]     # nothing was started


@pytest.mark.parametrize("partitions", [0, -1, 1.5, True, "2", None])
def test_bad_partitions(uname, partitions):
    with pytest.raises(ValueError, match="partitions="):
        Registry.start_link("unique", name=uname("reg"), partitions=partitions)


def test_bad_child_spec_options(uname):
    with pytest.raises(gs.ChildSpecError, match="options dict"):
        Registry.child_spec(None)
    with pytest.raises(gs.ChildSpecError, match="unknown option"):
        Registry.child_spec({"name": uname("r"), "kyes": "unique"})
    with pytest.raises(gs.ChildSpecError, match="needs name="):
        Registry.child_spec({"keys": "unique"})
    with pytest.raises(gs.ChildSpecError, match="keys="):
        Registry.child_spec({"keys": "dup", "name": uname("r")})


def test_bad_arguments_to_registry_functions(unique):
    with pytest.raises(TypeError, match="hashable"):
        Registry.register(unique, ["a", "list"], 1)
    with pytest.raises(TypeError, match="hashable"):
        Registry.lookup(unique, ("ok", ["not", "ok"]))
    with pytest.raises(TypeError, match="registry's name"):
        Registry.lookup(42, "hello")
    with pytest.raises(TypeError, match="needs a Pid"):
        Registry.keys(unique, "not a pid")
    with pytest.raises(TypeError, match="needs a Pid"):
        Registry.values(unique, "hello", None)
    with pytest.raises(TypeError, match="where="):
        Registry.select(unique, where="key == 1")
    with pytest.raises(TypeError, match="dispatch needs a function"):
        Registry.dispatch(unique, "hello", None)
    with pytest.raises(TypeError, match="update_value needs a function"):
        Registry.update_value(unique, "hello", 5)
    with pytest.raises(TypeError, match="via name"):
        Registry.whereis_name("just-a-key")
    with pytest.raises(TypeError, match="via name"):
        gs.whereis(("via", Registry, (unique,)))
    assert Registry.count(unique) == 0

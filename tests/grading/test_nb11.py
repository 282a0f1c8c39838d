"""Exercise 11.1 (wire the terminals tree): the reference solution passes; plausible learner mistakes fail with the right hint."""

import pytest

import genserver_lite as gs
from genserver_lite.grading import GradingFailed

TREE = gs.grading.get("11.1")
HINTS = {c.title: c.hint for c in TREE.checks}
CHILDREN, OPENS, CRASH, LOGOUT, REGISTRY_CRASH, BUFFERS_CRASH = (c.title for c in TREE.checks)
REGISTRY = (gs.Registry, {"keys": "unique", "name": "sessions"})
BUFFERS = (gs.DynamicSupervisor, {"name": "buffers"})


class Session(gs.GenServer):
    """The reference solution, as in solutions/11_capstone.ipynb."""

    @classmethod
    def start_link(cls, session_id):
        return super().start_link(session_id, name=("via", gs.Registry, ("sessions", session_id)))

    def init(self, session_id):
        return ("ok", session_id)

    def handle_call(self, request, from_, session_id):
        match request:
            case "ping":
                return ("reply", ("pong", session_id), session_id)

    def handle_cast(self, request, session_id):
        match request:
            case "logout":
                return ("stop", "normal", session_id)


def tree(strategy, children=(REGISTRY, BUFFERS)):
    class Terminals(gs.Supervisor):
        def init(self, arg):
            return gs.supervise(list(children), strategy=strategy)
    return Terminals


def opener(restart):
    def open_session(session_id):
        return gs.DynamicSupervisor.start_child("buffers", gs.child_spec((Session, session_id), restart=restart))
    return open_session


class Unnamed(Session):
    """Forgets the via name: the session runs, but nobody finds it by its id."""

    @classmethod
    def start_link(cls, session_id):
        return gs.GenServer.start_link.__func__(cls, session_id)


def namespace(**overrides):
    ns = {"Session": Session, "Terminals": tree("rest_for_one"), "open_session": opener("transient")}
    ns.update(overrides)
    return ns


def test_the_reference_solution_passes_every_check(capsys):
    report = gs.grading.check("11.1", namespace())
    assert (report.passed, report.total) == (6, 6)
    assert capsys.readouterr().out.endswith("6/6 checks passed\n")
    assert report.seconds < 1.0


@pytest.mark.parametrize("overrides, failing, why", [
    ({"Terminals": tree("one_for_one")}, [REGISTRY_CRASH],
     "why: the registry was killed and 'buffers' kept its process"),
    ({"Terminals": tree("one_for_all")}, [BUFFERS_CRASH],
     "why: the registry kept its process after 'buffers' crashed: got False, expected True"),
    ({"Terminals": tree("rest_for_one", (BUFFERS, REGISTRY))}, [CHILDREN, REGISTRY_CRASH, BUFFERS_CRASH],
     "why: Terminals' children, in start order: got ['buffers', 'sessions'], expected ['sessions', 'buffers']"),
    ({"open_session": opener("permanent")}, [LOGOUT],
     "why: the processes registered as 's1' after it logged out"),
    ({"open_session": opener("temporary")}, [CRASH],
     "why: after s1 crashed, no process is registered as 's1'"),
    ({"Session": Unnamed, "open_session": lambda sid: gs.DynamicSupervisor.start_child(
        "buffers", gs.child_spec((Unnamed, sid), restart="transient"))},
     [OPENS, CRASH, LOGOUT, REGISTRY_CRASH],
     "why: Registry.lookup('sessions', 's1') is [the pid open_session returned]: got False, expected True"),
])
def test_a_plausible_mistake_fails_the_right_checks_with_their_hints(overrides, failing, why, capsys):
    with pytest.raises(GradingFailed) as info:
        gs.grading.check("11.1", namespace(**overrides))
    out = capsys.readouterr().out
    assert info.value.report.failed_titles() == failing
    for title in failing:
        assert f"✗ {title}\n    hint: {HINTS[title]}\n" in out
    assert why in out
    assert out.endswith(f"{6 - len(failing)}/6 checks passed\n")


def test_the_derived_stubs_fail_every_check_as_not_implemented(capsys):
    class Terminals(gs.Supervisor):
        def init(self, arg):
            raise NotImplementedError("return gs.supervise([the registry, the DynamicSupervisor], strategy=...)")

    with pytest.raises(GradingFailed) as info:
        gs.grading.check("11.1", namespace(Terminals=Terminals))
    assert info.value.report.passed == 0
    assert capsys.readouterr().out.count("not implemented yet: return gs.supervise(") == 6

"""Exercise 11.1 (wire the service's tree): the reference solution passes; plausible learner mistakes fail with the right hint."""

import pytest

import genserver_lite as gs
from genserver_lite.grading import GradingFailed
from grading_asserts import assert_fails_with_hints

TREE = gs.grading.get("11.1")
HINTS = {c.title: c.hint for c in TREE.checks}
CHILDREN, OPENS, TRANSIENT, BREAKER_CRASH, REGISTRY_CRASH, BUFFERS_CRASH = (c.title for c in TREE.checks)
REGISTRY = (gs.Registry, {"keys": "unique", "name": "sessions"})
BUFFERS = (gs.DynamicSupervisor, {"name": "buffers"})


class Breaker(gs.GenServer):
    @classmethod
    def start_link(cls, arg=None):
        return super().start_link(arg, name="breaker")

    def init(self, _arg):
        return ("ok", "closed")


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


class Unnamed(Session):
    """Forgets the via name: the session runs, but nobody finds it by its id."""

    @classmethod
    def start_link(cls, session_id):
        return gs.GenServer.start_link.__func__(cls, session_id)


def terminals(strategy, children=(REGISTRY, BUFFERS)):
    class Terminals(gs.Supervisor):
        @classmethod
        def start_link(cls, arg=None):
            return super().start_link(arg, name="terminals")

        def init(self, arg):
            return gs.supervise(list(children), strategy=strategy)
    return Terminals


def service(strategy, terminals_cls):
    class Service(gs.Supervisor):
        def init(self, arg):
            return gs.supervise([Breaker, terminals_cls], strategy=strategy)
    return Service


def opener(restart, cls=Session):
    def open_session(session_id):
        return gs.DynamicSupervisor.start_child("buffers", gs.child_spec((cls, session_id), restart=restart))
    return open_session


def namespace(top="one_for_one", inner="rest_for_one", children=(REGISTRY, BUFFERS), restart="transient",
              session=Session):
    inner_cls = terminals(inner, children)
    return {"Session": session, "Terminals": inner_cls, "Service": service(top, inner_cls),
            "open_session": opener(restart, session)}


def test_the_reference_solution_passes_every_check(capsys):
    report = gs.grading.check("11.1", namespace())
    assert (report.passed, report.total) == (6, 6)
    assert capsys.readouterr().out.endswith("6/6 checks passed\n")
    assert report.seconds < 1.0


@pytest.mark.parametrize("mistake, failing, why", [
    ({"inner": "one_for_one"}, [REGISTRY_CRASH],
     "why: the registry was killed and 'buffers' kept its process"),
    ({"inner": "one_for_all"}, [BUFFERS_CRASH],
     "why: 'buffers' was killed and the registry was restarted with it"),
    ({"children": (BUFFERS, REGISTRY)}, [CHILDREN, REGISTRY_CRASH, BUFFERS_CRASH],
     "why: Terminals' children, in start order: got ['buffers', 'sessions'], expected ['sessions', 'buffers']"),
    ({"top": "one_for_all"}, [BREAKER_CRASH],
     "why: session 's1' is not registered with its process after the breaker crashed (registered as 's1' "
     "now: nothing): Service restarted Terminals too"),
    ({"top": "rest_for_one"}, [BREAKER_CRASH],
     "why: session 's1' is not registered with its process after the breaker crashed (registered as 's1' "
     "now: nothing): Service restarted Terminals too"),
    ({"restart": "permanent"}, [TRANSIENT],
     "why: s2 logged out (it stopped with 'normal') and 'buffers' started it again"),
    ({"restart": "temporary"}, [TRANSIENT],
     "why: after s1 crashed, no process is registered as 's1'"),
    ({"session": Unnamed}, [OPENS, TRANSIENT, BREAKER_CRASH, REGISTRY_CRASH],
     "but the registry 'sessions' has nothing under 's1': does Session.start_link pass "
     "name=('via', gs.Registry, ('sessions', session_id))?"),
])
def test_a_plausible_mistake_fails_the_right_checks_with_their_hints(mistake, failing, why, capsys):
    report, out = assert_fails_with_hints("11.1", namespace(**mistake), failing, capsys)
    assert why in out
    assert report.total == 6


def test_the_derived_stubs_fail_every_check_as_not_implemented(capsys):
    class Service(gs.Supervisor):
        def init(self, arg):
            raise NotImplementedError("return gs.supervise([Breaker, Terminals], strategy=...)")

    with pytest.raises(GradingFailed) as info:
        gs.grading.check("11.1", {**namespace(), "Service": Service})
    assert info.value.report.passed == 0
    assert capsys.readouterr().out.count("not implemented yet: return gs.supervise([Breaker, Terminals]") == 6

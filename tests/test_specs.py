"""Child specifications: the three forms, class attributes, overrides, and every malformed spec.

Ported from Elixir's ``supervisor_test.exs`` ("child_spec/2", "init/2") and
OTP's ``supervisor_SUITE.erl`` (``child_specs``, ``sup_start_map``,
``sup_start_map_faulty_specs``), in this library's terms: a malformed spec
raises ``gs.ChildSpecError`` naming the child and the field, before any
process starts.
"""

import pytest

import genserver_lite as gs
from genserver_lite.testing import refute_receive
from support import SHORT


class Counter(gs.GenServer):
    """A plain worker with the GenServer defaults (permanent, 5.0 s, worker)."""

    def init(self, arg):
        if isinstance(arg, dict) and "notify" in arg:
            gs.send(arg["notify"], ("init", arg.get("tag"), gs.self()))
        return ("ok", arg)


class Session(gs.GenServer):
    """Class attributes shape child_spec, as ``use GenServer, restart: ...`` does."""

    restart = "transient"
    shutdown = "brutal_kill"

    def init(self, arg):
        return ("ok", arg)


class Patient(gs.GenServer):
    restart = "temporary"
    shutdown = 0.25

    def init(self, arg):
        return ("ok", arg)


class AppSup(gs.Supervisor):
    def init(self, arg):
        return gs.supervise([], strategy="one_for_one")


class Pool(gs.DynamicSupervisor):
    def init(self, arg):
        return gs.DynamicSupervisor.flags(max_children=arg)


def start_fn(*args):
    return None


class NotAServer:
    """A class with no child_spec: not a valid child."""


class WeirdSpec:
    @classmethod
    def child_spec(cls, arg):
        return ["not", "a", "dict"]


# -- the three forms -------------------------------------------------------------------

def test_a_class_means_its_child_spec_of_none():
    spec = gs.child_spec(Counter)
    assert spec == {"id": Counter, "start": (Counter.start_link, (None,)), "restart": "permanent",
                    "shutdown": 5.0, "type": "worker", "modules": ["Counter"]}


def test_a_pair_passes_its_argument_to_start_link():
    spec = gs.child_spec((Counter, {"n": 5}))
    assert spec["id"] is Counter
    assert spec["start"] == (Counter.start_link, ({"n": 5},))


def test_the_class_method_child_spec_is_shaped_by_class_attributes():
    assert Session.child_spec(7) == {"id": Session, "start": (Session.start_link, (7,)),
                                     "restart": "transient", "shutdown": "brutal_kill", "type": "worker"}
    spec = gs.child_spec((Patient, 1))
    assert (spec["restart"], spec["shutdown"], spec["type"]) == ("temporary", 0.25, "worker")


def test_a_dict_gets_otp_defaults():
    spec = gs.child_spec({"id": "db", "start": start_fn})
    assert spec == {"id": "db", "start": (start_fn, ()), "restart": "permanent", "shutdown": 5.0,
                    "type": "worker", "modules": ["start_fn"]}


def test_a_dict_with_callable_and_args():
    spec = gs.child_spec({"id": "db", "start": (start_fn, [1, 2])})
    assert spec["start"] == (start_fn, (1, 2))


def test_a_supervisor_type_child_defaults_to_infinity_shutdown():
    spec = gs.child_spec({"id": "sub", "start": start_fn, "type": "supervisor"})
    assert spec["shutdown"] == "infinity"
    spec = gs.child_spec({"id": "sub", "start": start_fn, "type": "supervisor", "shutdown": 3})
    assert spec["shutdown"] == 3


def test_a_supervisor_module_is_a_supervisor_child_with_infinity_shutdown():
    spec = gs.child_spec((AppSup, "arg"))
    assert spec == {"id": AppSup, "start": (AppSup.start_link, ("arg",)), "restart": "permanent",
                    "shutdown": "infinity", "type": "supervisor", "modules": ["AppSup"]}


def test_dynamic_supervisor_child_specs():
    plain = gs.child_spec(gs.DynamicSupervisor)
    assert plain["start"] == (gs.DynamicSupervisor.start_link, ())
    assert (plain["type"], plain["shutdown"], plain["id"]) == ("supervisor", "infinity", gs.DynamicSupervisor)
    mod = gs.child_spec((Pool, 4))
    assert mod["start"] == (Pool.start_link, (4,))
    assert mod["type"] == "supervisor"


def test_modules_may_be_given():
    spec = gs.child_spec({"id": "x", "start": start_fn, "modules": ("A", "B")})
    assert spec["modules"] == ["A", "B"]


# -- gs.child_spec(child, **overrides) ------------------------------------------------------

def test_overrides_replace_fields():
    spec = gs.child_spec((Counter, 1), id="c1", restart="temporary", shutdown="infinity")
    assert spec["id"] == "c1"
    assert (spec["restart"], spec["shutdown"]) == ("temporary", "infinity")
    assert spec["start"] == (Counter.start_link, (1,))


def test_overrides_on_a_dict_and_on_start():
    spec = gs.child_spec({"id": "a", "start": start_fn}, start=(Counter.start_link, ["x"]), type="supervisor")
    assert spec["start"] == (Counter.start_link, ("x",))
    assert spec["type"] == "supervisor"
    assert spec["shutdown"] == "infinity"    # the default follows the overridden type


def test_child_spec_does_not_change_its_input():
    original = {"id": "a", "start": start_fn}
    gs.child_spec(original, id="b")
    assert original == {"id": "a", "start": start_fn}


def test_an_unknown_override_names_the_field_and_child():
    with pytest.raises(gs.ChildSpecError, match=r"Counter.*'idd'"):
        gs.child_spec(Counter, idd="x")


def test_an_override_with_a_bad_value_names_child_and_field():
    with pytest.raises(gs.ChildSpecError, match=r"Counter.*'restart'.*'sometimes'"):
        gs.child_spec(Counter, restart="sometimes")


# -- malformed specs: ChildSpecError naming the child and the field ------------------------------

BAD_SPECS = [
    ({"start": start_fn}, r"'id'"),
    ({"id": "x"}, r"child 'x'.*missing field 'start'"),
    ({"id": "x", "start": 42}, r"child 'x'.*'start'.*42"),
    ({"id": "x", "start": (start_fn, 1)}, r"child 'x'.*'start'"),
    ({"id": "x", "start": ("not callable", ())}, r"child 'x'.*'start'"),
    ({"id": "x", "start": start_fn, "restart": "prmanent"}, r"child 'x'.*'restart'.*'prmanent'"),
    ({"id": "x", "start": start_fn, "shutdown": -10}, r"child 'x'.*'shutdown'.*-10"),
    ({"id": "x", "start": start_fn, "shutdown": "soon"}, r"child 'x'.*'shutdown'.*'soon'"),
    ({"id": "x", "start": start_fn, "shutdown": True}, r"child 'x'.*'shutdown'.*True"),
    ({"id": "x", "start": start_fn, "type": "wrker"}, r"child 'x'.*'type'.*'wrker'"),
    ({"id": "x", "start": start_fn, "modules": "dy"}, r"child 'x'.*'modules'.*'dy'"),
    ({"id": "x", "start": start_fn, "silly_flag": True}, r"child 'x'.*silly_flag"),
    ({"id": ["un", "hashable"], "start": start_fn}, r"'id'.*hashable"),
]


@pytest.mark.parametrize("spec,message", BAD_SPECS,
                         ids=[m.split(".*")[-1].strip("'") for _, m in BAD_SPECS])
def test_a_malformed_spec_names_child_and_field(spec, message):
    with pytest.raises(gs.ChildSpecError, match=message):
        gs.child_spec(spec)


def test_a_child_that_is_no_known_form():
    with pytest.raises(gs.ChildSpecError, match=r"invalid child 'other'"):
        gs.child_spec("other")
    with pytest.raises(gs.ChildSpecError, match=r"invalid child \(1, 2, 3\)"):
        gs.child_spec((1, 2, 3))


def test_a_class_without_child_spec():
    with pytest.raises(gs.ChildSpecError, match=r"NotAServer.*child_spec"):
        gs.child_spec(NotAServer)


def test_a_child_spec_that_returns_no_dict():
    with pytest.raises(gs.ChildSpecError, match=r"WeirdSpec.*not a dict"):
        gs.child_spec((WeirdSpec, 1))


def test_child_spec_error_is_a_value_error():
    assert issubclass(gs.ChildSpecError, ValueError)


# -- gs.supervise (Elixir Supervisor.init/2) ------------------------------------------------------

def test_supervise_normalises_children_and_keeps_flags():
    out = gs.supervise([Counter, (Session, 1)], strategy="rest_for_one", max_restarts=1, max_seconds=2)
    assert (out["strategy"], out["max_restarts"], out["max_seconds"]) == ("rest_for_one", 1, 2)
    assert [c["id"] for c in out["children"]] == [Counter, Session]
    assert out["children"][1]["restart"] == "transient"


def test_supervise_defaults_are_otps():
    out = gs.supervise([])
    assert (out["strategy"], out["max_restarts"], out["max_seconds"]) == ("one_for_one", 3, 5.0)


def test_supervise_rejects_duplicate_ids():
    with pytest.raises(gs.ChildSpecError, match=r"duplicate child id .*Counter"):
        gs.supervise([(Counter, 1), (Counter, 2)])
    ok = gs.supervise([gs.child_spec((Counter, 1), id=1), gs.child_spec((Counter, 2), id=2)])
    assert [c["id"] for c in ok["children"]] == [1, 2]


def test_supervise_needs_a_list_of_children():
    for bad in ("abc", {"id": "x", "start": start_fn}, 42):
        with pytest.raises(gs.ChildSpecError, match="children must be a list"):
            gs.supervise(bad)


# -- nothing starts when a spec is malformed --------------------------------------------------------

def test_start_link_checks_every_spec_before_starting_any():
    me = gs.self()
    before = gs.processes()
    good = gs.child_spec((Counter, {"notify": me, "tag": "good"}), id="good")
    bad = {"id": "bad", "start": start_fn, "restart": "nope"}
    with pytest.raises(gs.ChildSpecError, match=r"child 'bad'.*'restart'"):
        gs.Supervisor.start_link([good, bad])
    refute_receive(("init", "good", ...), SHORT)
    assert gs.processes() == before


def test_start_link_rejects_duplicate_ids_before_starting_any():
    me = gs.self()
    before = gs.processes()
    child = (Counter, {"notify": me, "tag": "dup"})
    with pytest.raises(gs.ChildSpecError, match="duplicate child id"):
        gs.Supervisor.start_link([child, child])
    refute_receive(("init", "dup", ...), SHORT)
    assert gs.processes() == before


def test_a_module_supervisor_whose_init_builds_a_bad_spec_raises_child_spec_error():
    class BadInit(gs.Supervisor):
        def init(self, arg):
            return gs.supervise([Counter, {"id": "broken", "start": start_fn, "type": "wrker"}])

    me = gs.self()
    before = gs.processes()
    with pytest.raises(gs.ChildSpecError, match=r"child 'broken'.*'type'"):
        BadInit.start_link()
    assert gs.processes() == before


def test_start_child_checks_the_spec_in_the_caller():
    sup = gs.Supervisor.start_link([])
    with pytest.raises(gs.ChildSpecError, match=r"child 'x'.*'shutdown'"):
        gs.Supervisor.start_child(sup, {"id": "x", "start": start_fn, "shutdown": -1})
    dyn = gs.DynamicSupervisor.start_link()
    with pytest.raises(gs.ChildSpecError, match=r"child 'x'.*'shutdown'"):
        gs.DynamicSupervisor.start_child(dyn, {"id": "x", "start": start_fn, "shutdown": -1})
    assert gs.Supervisor.which_children(sup) == []
    assert gs.DynamicSupervisor.which_children(dyn) == []

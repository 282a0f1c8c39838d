"""Exercise 03.1 (a Stack server): the reference solution passes; plausible learner mistakes fail with the right hint."""

import pytest

import genserver_lite as gs
from genserver_lite.grading import GradingFailed

STACK = gs.grading.get("03.1")
HINTS = {c.title: c.hint for c in STACK.checks}


class Stack(gs.GenServer):
    """The reference solution, as in solutions/03_genserver_template.ipynb."""

    def init(self, items):
        return ("ok", list(items))

    def handle_call(self, request, from_, state):
        match request:
            case "pop":
                if not state:
                    return ("reply", None, state)
                head, *rest = state
                return ("reply", head, rest)
            case "size":
                return ("reply", len(state), state)

    def handle_cast(self, request, state):
        match request:
            case ("push", item):
                return ("noreply", [item, *state])


class PopsTheWrongEnd(Stack):
    """Pushes on the head but pops the tail: a queue, not a stack."""

    def handle_call(self, request, from_, state):
        if request == "pop" and state:
            return ("reply", state[-1], state[:-1])
        return super().handle_call(request, from_, state)


class CrashesWhenEmpty(Stack):
    """The first version everyone writes: ``head, *rest = []`` raises."""

    def handle_call(self, request, from_, state):
        if request == "pop":
            head, *rest = state
            return ("reply", head, rest)
        return super().handle_call(request, from_, state)


class PushIsACall(Stack):
    """Push written as a call: ``gs.cast(pid, ("push", x))`` then hits no handle_cast clause."""

    def handle_call(self, request, from_, state):
        match request:
            case ("push", item):
                return ("reply", "ok", [item, *state])
        return super().handle_call(request, from_, state)

    handle_cast = gs.GenServer.handle_cast


class SizeForgets(Stack):
    """Replies the size but returns an empty state."""

    def handle_call(self, request, from_, state):
        if request == "size":
            return ("reply", len(state), [])
        return super().handle_call(request, from_, state)


class KeepsItOnSelf(gs.GenServer):
    """Works as a stack, but keeps the items on ``self``, out of the process state."""

    def init(self, items):
        self.items = list(items)
        return ("ok", None)

    def handle_call(self, request, from_, state):
        if request == "pop":
            return ("reply", self.items.pop(0) if self.items else None, state)
        return ("reply", len(self.items), state)

    def handle_cast(self, request, state):
        self.items.insert(0, request[1])
        return ("noreply", state)


def failed_checks(cls, capsys):
    with pytest.raises(GradingFailed) as info:
        gs.grading.check("03.1", {"Stack": cls})
    out = capsys.readouterr().out
    return info.value.report, out


def test_the_reference_solution_passes_every_check(capsys):
    report = gs.grading.check("03.1", {"Stack": Stack})
    assert (report.passed, report.total) == (5, 5)
    assert capsys.readouterr().out.endswith("5/5 checks passed\n")
    assert report.seconds < 1.0


@pytest.mark.parametrize("cls, failing", [
    (PopsTheWrongEnd, ["start_link(items) keeps the items, the first one on top",
                       "pop replies the last item pushed",
                       "size follows pushes and pops, and does not change the stack",
                       "the state is the list of items, top first (nothing kept on self)"]),
    (CrashesWhenEmpty, ["pop on an empty stack replies None and keeps the server alive"]),
    (PushIsACall, ["pop replies the last item pushed",
                   "pop on an empty stack replies None and keeps the server alive",
                   "size follows pushes and pops, and does not change the stack",
                   "the state is the list of items, top first (nothing kept on self)"]),
    (SizeForgets, ["start_link(items) keeps the items, the first one on top",
                   "size follows pushes and pops, and does not change the stack"]),
    (KeepsItOnSelf, ["the state is the list of items, top first (nothing kept on self)"]),
])
def test_a_plausible_mistake_fails_the_right_checks_with_their_hints(cls, failing, capsys):
    report, out = failed_checks(cls, capsys)
    assert report.failed_titles() == failing
    for title in failing:
        assert f"✗ {title}\n    hint: {HINTS[title]}\n" in out
    assert out.endswith(f"{5 - len(failing)}/5 checks passed\n")


def test_pop_on_empty_that_crashes_says_why(capsys):
    report, out = failed_checks(CrashesWhenEmpty, capsys)
    assert ("    why: the server crashed handling call 'pop': ValueError: not enough values to unpack"
            in out)


def test_pop_from_the_wrong_end_says_what_it_got(capsys):
    _, out = failed_checks(PopsTheWrongEnd, capsys)
    assert "why: three pops after Stack([1]), push(2), push(3): got [1, 2, 3], expected [3, 2, 1]" in out


def test_the_derived_stub_fails_every_check_as_not_implemented(capsys):
    class Stub(gs.GenServer):
        def init(self, items):
            raise NotImplementedError("return ('ok', state): keep the items as a list, the first on top")

    report, out = failed_checks(Stub, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: return ('ok', state)") == 5


def test_a_missing_stack_fails_every_check_naming_it(capsys):
    with pytest.raises(GradingFailed):
        gs.grading.check("03.1", {"gs": gs})
    assert capsys.readouterr().out.count("why: Stack is not defined: run the cell that defines it") == 5


"""Exercise 03.1 (a Stack server): the reference solution passes; plausible learner mistakes fail with the right hint."""

import pytest

import genserver_lite as gs
from genserver_lite.grading import GradingFailed
from grading_asserts import grade_fails

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
    return grade_fails("03.1", {"Stack": cls}, capsys)


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



# -- 03.2 · A heartbeat ---------------------------------------------------------------------

HEARTBEAT = gs.grading.get("03.2")
HEARTBEAT_HINTS = {c.title: c.hint for c in HEARTBEAT.checks}
FIRST_BEAT = "start_link(period) returns with 0 beats; the first beat comes one period later"
CONTINUE = "init only asks for a continue; handle_continue schedules the first beat"
ONE_PER_PERIOD = "one beat per period: three periods, three beats"
PERIOD_ARG = "the period comes from start_link's argument"
STOPS = "'stop' replies 'ok' and stops the server with reason 'normal'"


class Heartbeat(gs.GenServer):
    """The reference solution, as in solutions/03_genserver_template.ipynb."""

    def init(self, period):
        return ("ok", {"period": period, "beats": 0}, ("continue", "schedule"))

    def handle_continue(self, what, state):
        gs.send_after(gs.self(), "beat", state["period"])
        return ("noreply", state)

    def handle_info(self, msg, state):
        match msg:
            case "beat":
                gs.send_after(gs.self(), "beat", state["period"])
                return ("noreply", {**state, "beats": state["beats"] + 1})
        return super().handle_info(msg, state)

    def handle_call(self, request, from_, state):
        match request:
            case "beats":
                return ("reply", state["beats"], state)
            case "stop":
                return ("stop", "normal", "ok", state)


class SchedulesInInit(Heartbeat):
    """The first timer set in init: it works, but start_link's caller pays for any slow setup there."""

    def init(self, period):
        gs.send_after(gs.self(), "beat", period)
        return ("ok", {"period": period, "beats": 0})


class ForgetsToReschedule(Heartbeat):
    """Counts the beat but never schedules the next one: a single beat."""

    def handle_info(self, msg, state):
        if msg == "beat":
            return ("noreply", {**state, "beats": state["beats"] + 1})
        return super().handle_info(msg, state)


class ReschedulesTwice(Heartbeat):
    """Schedules in handle_continue and again from a helper: the beats double every period."""

    def handle_info(self, msg, state):
        if msg == "beat":
            gs.send_after(gs.self(), "beat", state["period"])
        return super().handle_info(msg, state)


class HardCodedPeriod(Heartbeat):
    """Every timer after the first uses the notebook's PERIOD constant instead of the state's period."""

    def handle_info(self, msg, state):
        if msg == "beat":
            gs.send_after(gs.self(), "beat", 30.0)
            return ("noreply", {**state, "beats": state["beats"] + 1})
        return super().handle_info(msg, state)


class StopsWithoutReplying(Heartbeat):
    """('stop', reason, state) from a call: the server stops, the caller gets no 'ok'."""

    def handle_call(self, request, from_, state):
        if request == "stop":
            return ("stop", "normal", state)
        return super().handle_call(request, from_, state)


def failed_heartbeat(cls, capsys):
    return grade_fails("03.2", {"Heartbeat": cls}, capsys)


def test_the_reference_heartbeat_passes_every_check(capsys):
    report = gs.grading.check("03.2", {"Heartbeat": Heartbeat})
    assert (report.passed, report.total) == (5, 5)
    assert capsys.readouterr().out.endswith("5/5 checks passed\n")
    assert report.seconds < 1.0


@pytest.mark.parametrize("cls, failing", [
    (SchedulesInInit, [CONTINUE]),
    (ForgetsToReschedule, [ONE_PER_PERIOD, PERIOD_ARG]),
    (ReschedulesTwice, [ONE_PER_PERIOD, PERIOD_ARG]),
    (HardCodedPeriod, [ONE_PER_PERIOD, PERIOD_ARG]),
    (StopsWithoutReplying, [STOPS]),
])
def test_a_heartbeat_mistake_fails_the_right_checks_with_their_hints(cls, failing, capsys):
    report, out = failed_heartbeat(cls, capsys)
    assert report.failed_titles() == failing
    for title in failing:
        assert f"✗ {title}\n    hint: {HEARTBEAT_HINTS[title]}\n" in out
    assert out.endswith(f"{5 - len(failing)}/5 checks passed\n")
    assert report.seconds < 2.0


def test_a_timer_set_in_init_is_named(capsys):
    _, out = failed_heartbeat(SchedulesInInit, capsys)
    assert "why: init(5) returned ('ok', {'period': 5.0, 'beats': 0}), expected ('ok', state, ('continue', ...))" in out


def test_a_timer_set_in_init_besides_the_continue_is_named(capsys):
    class Both(Heartbeat):
        def init(self, period):
            gs.send_after(gs.self(), "beat", period)
            return super().init(period)

    _, out = failed_heartbeat(Both, capsys)
    assert "why: init started a timer (1 fired one period later): the first beat belongs in handle_continue" in out
    # ... and the second timer doubles the beats
    assert f"✗ {ONE_PER_PERIOD}\n" in out


def test_beats_that_double_say_what_they_counted(capsys):
    _, out = failed_heartbeat(ReschedulesTwice, capsys)
    assert "why: beats after each of three periods: got [1, 3, 7], expected [1, 2, 3]" in out


def test_a_missing_reschedule_says_what_it_counted(capsys):
    _, out = failed_heartbeat(ForgetsToReschedule, capsys)
    assert "why: beats after each of three periods: got [1, 1, 1], expected [1, 2, 3]" in out


def test_the_derived_heartbeat_stub_fails_every_check_as_not_implemented(capsys):
    class Stub(Heartbeat):
        def init(self, period):
            raise NotImplementedError("return ('ok', state, ('continue', 'schedule')) and start no timer here")

    report, out = failed_heartbeat(Stub, capsys)
    assert report.passed == 0
    assert out.count("why: not implemented yet: return ('ok', state, ('continue', 'schedule'))") == 5

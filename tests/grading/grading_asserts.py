"""What every exercise's tests assert about a grade: shared by tests/grading/test_nb*.py."""

import pytest

import genserver_lite as gs
from genserver_lite.grading import GradingFailed


def hints(exercise_id):
    """``{check title: its hint}`` of an exercise."""
    return {c.title: c.hint for c in gs.grading.get(exercise_id).checks}


def grade_fails(exercise_id, ns, capsys):
    """``(report, printed output)`` of grading ``ns``; the grade must fail."""
    with pytest.raises(GradingFailed) as info:
        gs.grading.check(exercise_id, ns)
    return info.value.report, capsys.readouterr().out


def assert_fails_with_hints(exercise_id, ns, failing, capsys):
    """Exactly the checks titled ``failing`` fail, each printed with its hint; ``(report, output)``."""
    report, out = grade_fails(exercise_id, ns, capsys)
    assert report.failed_titles() == failing
    all_hints = hints(exercise_id)
    for title in failing:
        assert f"✗ {title}\n    hint: {all_hints[title]}\n" in out
    assert out.endswith(f"{report.total - len(failing)}/{report.total} checks passed\n")
    return report, out


def assert_passes(exercise_id, ns, capsys, n=None):
    """Every check passes (``n`` of them, when given), and the report's last line says so."""
    report = gs.grading.check(exercise_id, ns)
    n = len(gs.grading.get(exercise_id).checks) if n is None else n
    assert (report.passed, report.total) == (n, n)
    assert capsys.readouterr().out.endswith(f"{n}/{n} checks passed\n")
    return report

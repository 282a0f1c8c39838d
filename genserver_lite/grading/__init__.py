"""Exercise checks and the teacher's gradebook (the course's autograder; no OTP original).

``gs.grading.check("03.1", globals())`` in a notebook's check cell runs that
exercise's checks and prints the report; ``gs.grading.exercises()`` lists
them; ``python -m genserver_lite.grade`` grades a class. See
:mod:`genserver_lite.grading.core`.
"""

from . import exercises as _declared  # noqa: F401 - fills the registry (then the name is the function)
from .core import Check, Exercise, GradingFailed, MissingName, Report, Result, check, exercises, get

__all__ = ["check", "GradingFailed", "Exercise", "exercises", "get", "Check", "Result", "Report",
           "MissingName"]

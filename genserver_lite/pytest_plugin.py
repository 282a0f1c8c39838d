"""genserver_lite's pytest fixtures (a pytest plugin, registered through the package's ``pytest11`` entry point).

Kept apart from :mod:`genserver_lite.testing` so that ``import genserver_lite``
does not import pytest.

* ``fake_clock``: a :class:`~genserver_lite.testing.FakeClock` installed for the test.
* ``start_supervised``: ExUnit's ``start_supervised!``: start children under a
  per-test supervisor, stopped after the test.
"""

from __future__ import annotations

import pytest

from . import _kernel as k
from .gen import stop
from .specs import child_spec
from .supervisor import Supervisor
from .testing import FakeClock


@pytest.fixture
def fake_clock():
    """A :class:`FakeClock` installed for the test."""
    with FakeClock() as clock:
        yield clock


@pytest.fixture
def start_supervised():
    """ExUnit's ``start_supervised!``: start children under a test supervisor, stopped after the test.

    ``start_supervised(child, **overrides)`` takes a child as the Supervisor
    does (a class, ``(cls, arg)``, or a spec dict) and returns its pid.
    """
    sup = Supervisor.start([], strategy="one_for_one", max_restarts=1000, max_seconds=1.0)

    def start(child, **overrides):
        return Supervisor.start_child(sup, child_spec(child, **overrides))

    yield start
    if k._procs.get(sup.id) is not None:
        stop(sup, "shutdown")

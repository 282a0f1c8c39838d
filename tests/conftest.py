"""Every test starts from gs.reset() and must leave no thread behind."""

import threading

import pytest

import genserver_lite as gs


@pytest.fixture(autouse=True)
def clean_runtime():
    gs.reset()
    before = set(threading.enumerate())
    yield
    gs.reset()
    leaked = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"the test leaked threads: {leaked}"


_names = iter(range(1, 1_000_000))


@pytest.fixture
def uname(request):
    """A name unique to this test: 'test_fn-1', 'test_fn-2', ..."""
    def make(label=""):
        return f"{request.node.name}-{label}{next(_names)}"
    return make

"""Fixtures for the browser tests: a JupyterLab server, Debian's chromium driven by Playwright.

The tests need ``/usr/bin/chromium`` (``apt-get install -y chromium``; ``.ci/run``
installs it). Playwright cannot download a browser here, so it drives that
one through ``executable_path``. Without it every test that needs the browser is
skipped, and the run's summary says so in capitals.

Nothing outlives a test module: the server (its whole process group, and its
kernels, which jupyter_client starts in sessions of their own) and the browser
are stopped by finalizers even when a test fails, and :func:`process_watch`
fails the module if a process started below pytest is still running.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))      # labserver, labpage (tests/ has no packages)

CHROMIUM = "/usr/bin/chromium"
HERE = Path(__file__).parent

# Flags this machine needs: root (no sandbox), no GPU, and no calls out (the network is closed).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return (f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing. Install Debian's chromium with "
                f"`apt-get install -y chromium` (.ci/run does); Playwright cannot download one here.")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        return f"BROWSER TESTS NOT RUN: playwright is not importable ({e}); `pip install -e '.[dev]'`."
    return None


MISSING = _missing()


def pytest_collection_modifyitems(config, items):
    if MISSING is None:
        return
    for item in items:
        if HERE in Path(str(item.fspath)).parents and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=MISSING))


def pytest_terminal_summary(terminalreporter):
    if MISSING is not None:
        terminalreporter.write_sep("!", MISSING, red=True, bold=True)


@pytest.fixture(autouse=True)
def clean_runtime():
    """Replaces tests/conftest.py's thread check here: these tests run genserver_lite in a kernel
    process, not in pytest, and Playwright's driver keeps a waiter thread while it runs.
    :func:`process_watch` checks what these tests start instead."""
    yield


@pytest.fixture(scope="module")
def process_watch():
    """Fails the module if any process started below pytest (server, kernels, browser) survives."""
    from labserver import ProcessWatch
    watch = ProcessWatch()
    yield watch
    left = watch.leftovers()
    assert not left, f"processes left behind by the browser tests: {left}"


@pytest.fixture(scope="module")
def lab(process_watch):
    """A JupyterLab server on a temporary root with copies of the notebooks; always stopped."""
    from labserver import LabServer
    server = LabServer()
    try:
        server.start()
        yield server
    finally:
        process_watch.note(server.stop())
        server.cleanup()


@pytest.fixture(scope="module")
def browser(process_watch):
    """Headless Debian chromium under Playwright; always closed."""
    from playwright.sync_api import sync_playwright
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            process_watch.note_children()       # the driver and chromium's processes
            chromium.close()
    finally:
        pw.stop()


@pytest.fixture(scope="module")
def open_notebook(lab, browser, process_watch):
    """``open_notebook(name, width=, height=)``: a fresh page with the notebook open and its kernel
    idle, in a browser context of its own. Whoever opens a page closes it with
    ``labpage.close_pages`` (which also shuts the kernels down), so each notebook starts on a
    fresh kernel; whatever is still open when the module ends is closed here."""
    from labpage import NotebookPage, close_pages
    opened = []

    def open_(name: str, width: int = 1920, height: int = 1080) -> NotebookPage:
        running = [s["path"] for s in lab.api("GET", "/api/sessions")]
        assert name not in running, f"{name} still has a kernel from an earlier test"
        ctx = browser.new_context(viewport={"width": width, "height": height})
        ctx.set_default_timeout(30_000)
        nb = NotebookPage(ctx.new_page(), lab, name)
        opened.append(nb)
        try:
            nb.open()
            kernel_python(lab, name)
        except BaseException:
            close_pages([nb], lab, process_watch)       # the next test starts clean
            raise
        return nb

    yield open_
    close_pages(opened, lab, process_watch)


def kernel_python(lab, name: str) -> None:
    """The notebook's kernel runs this interpreter (the .venv's python under `make test`)."""
    sessions = [s for s in lab.api("GET", "/api/sessions") if s["path"] == name]
    assert len(sessions) == 1, f"{name}: expected one kernel session, the server has {sessions}"
    kid = sessions[0]["kernel"]["id"]
    procs = [p for p in lab.kernel_processes() if any(kid in a for a in p.cmdline())]
    assert len(procs) == 1, f"{name}: no kernel process for kernel {kid} below the server"
    argv0 = procs[0].cmdline()[0]
    assert argv0 == sys.executable, f"{name}: the kernel runs {argv0}, not {sys.executable}"

"""The course renders in a real JupyterLab: widgets, Mermaid diagrams, and a live kill.

Learners see the course in JupyterLab, not in pytest. These tests start a
JupyterLab server on copies of the notebooks, open them in Debian's chromium
through Playwright, run their cells from the **Run** menu and read the page:
the ipywidgets views render (none stuck on "Loading widget...", none saying
"Error displaying widget"), a trace displayed in a cell is drawn as a Mermaid
sequence diagram, and a SupervisorPanel's **kill** button restarts the child,
which the page shows. Screenshots go to ``build/screenshots/``.

Some tests pin rendering bugs these tests found and that were fixed: panels
that fit a laptop screen, '#' kept in Mermaid names, a stepper picture at its
own size, and the gallery's panel still shown after Run All.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

expect = pytest.importorskip(
    "playwright.sync_api", reason="BROWSER TESTS NOT RUN: playwright is missing; `pip install -e '.[dev]'`").expect

from labpage import NotebookPage, close_pages  # noqa: E402 (needs playwright)
from labserver import NOTEBOOKS  # noqa: E402

SUPERVISION = "06_supervision.ipynb"
GALLERY = "12_gallery.ipynb"
COVERED = {SUPERVISION, GALLERY}
KILL_TIMEOUT_MS = 15_000


# -- what needs a browser ---------------------------------------------------------------------

_WIDGETS = re.compile(r"\bgs\.viz\.(SupervisorPanel|TraceStepper)\b|\bipywidgets\b|\bwidgets\.\w+\(")
_TRACE_NAME = re.compile(r"gs\.trace\([^)]*\)\s+as\s+(\w+)|^(\w+)\s*=\s*(?:gs\.trace|scenarios\.\w+)\(", re.M)


def shows_widget_or_mermaid(path: Path) -> list[str]:
    """Why a notebook needs the browser: widget code, or a cell ending in a bare trace."""
    cells = [("".join(c["source"]), c["cell_type"]) for c in json.loads(path.read_text())["cells"]]
    code = [src for src, kind in cells if kind == "code"]
    traces = {n for src in code for m in _TRACE_NAME.finditer(src) for n in m.groups() if n}
    why = []
    for i, src in enumerate(code):
        if _WIDGETS.search(src):
            why.append(f"code cell {i}: widgets")
        lines = [ln.split("#")[0].strip() for ln in src.strip().splitlines()]
        if lines and lines[-1] in traces:
            why.append(f"code cell {i}: displays trace {lines[-1]!r} (Mermaid)")
    return why


def test_every_notebook_with_widgets_or_mermaid_is_opened_here():
    found = {p.name: why for p in sorted(NOTEBOOKS.glob("*.ipynb")) if (why := shows_widget_or_mermaid(p))}
    assert COVERED <= set(found), f"the scan no longer finds {COVERED - set(found)}: {found}"
    missing = {name: why for name, why in found.items() if name not in COVERED}
    assert not missing, (f"these notebooks show widgets or Mermaid diagrams but no browser test opens "
                         f"them; add a test in tests/browser/: {missing}")


# -- the server is the one a learner gets, minus the pop-ups -----------------------------------

def test_server_has_the_widget_extension_and_no_popups(lab):
    listing = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], env=lab.env,
                             capture_output=True, text=True, timeout=60)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    version = re.search(r"JupyterLab v(\d+)\.(\d+)", text)
    assert version, f"`jupyter labextension list` printed no JupyterLab version:\n{text}"
    assert tuple(map(int, version.groups())) >= (4, 1), f"Mermaid needs JupyterLab 4.1+: {version[0]}"
    widgets = [ln for ln in text.splitlines() if "@jupyter-widgets/jupyterlab-manager" in ln]
    assert widgets and re.search(r"\benabled\b.*\bOK\b", widgets[0]), \
        f"the ipywidgets extension is not enabled and OK:\n{text}"

    page = lab.api("GET", f"/lab?token={lab.token}", raw=True)
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    assert "@jupyter-widgets/jupyterlab-manager" in {e["name"] for e in config["federated_extensions"]}
    assert "@jupyterlab/apputils-extension:announcements" in config["disabledExtensions"]
    assert config["news"] == {"disabled": True}

    def setting(plugin, key):
        return lab.api("GET", f"/lab/api/settings/{plugin}")["settings"][key]
    assert setting("@jupyterlab/apputils-extension:notification", "fetchNews") == "false"
    assert setting("@jupyterlab/apputils-extension:notification", "checkForUpdates") is False
    assert setting("@jupyterlab/docmanager-extension:plugin", "autosave") is False


# -- 06: kill a child from the panel, see it restart --------------------------------------------

@pytest.fixture(scope="module")
def supervision(open_notebook, lab, process_watch):
    """06 run down to its SupervisorPanels, as a learner does before "trying the buttons"."""
    nb = open_notebook(SUPERVISION)
    try:
        at = nb.index_of("gs.viz.SupervisorPanel(")
        nb.select(at + 1)
        nb.run_menu("Run All Above Selected Cell")
        nb.assert_ran(last=at)
        nb.assert_widgets_settled()
        expect(nb.supervisor_panels(at)).to_have_count(3)
        yield nb
    finally:
        close_pages([nb], lab, process_watch)


def test_supervision_panels_fit_a_laptop_screen(supervision):
    nb = supervision
    at = nb.index_of("gs.viz.SupervisorPanel(")
    size = nb.page.viewport_size
    nb.page.set_viewport_size({"width": 1440, "height": 900})
    try:
        nb.settle()
        nb.shot(nb.outputs(at), "panels-1440x900")
        clipped = nb.outputs(at).locator(".widget-button").evaluate_all(
            "bs => bs.filter(b => b.scrollWidth > b.clientWidth + 1)"
            ".map(b => `${b.textContent}: ${b.clientWidth}px of ${b.scrollWidth}px`)")
    finally:
        nb.page.set_viewport_size(size)
    assert not clipped, f"buttons too narrow for their labels: {clipped}"


def test_supervision_panel_kill_restarts_the_child(supervision):
    nb = supervision
    at = nb.index_of("gs.viz.SupervisorPanel(")
    panels = nb.supervisor_panels(at)
    out = nb.outputs(at)
    nb.shot(out, "panels-before-kill")

    # one_for_one: kill b; only b restarts.
    o41 = nb.panel_named(panels, "one_for_one")
    before = nb.rows(o41)
    assert set(before) == {"a", "b", "c"} and all(r.status == "running" for r in before.values()), before
    nb.row(o41, "b").get_by_role("button", name="kill", exact=True).click()
    expect(nb.row(o41, "b")).to_contain_text(f"restarted {before['b'].restarts + 1}x",
                                             timeout=KILL_TIMEOUT_MS)
    after = nb.rows(o41)
    assert after["b"].status == "running" and after["b"].mark == "exited", after["b"]
    for other in ("a", "c"):
        assert after[other].restarts == before[other].restarts and after[other].mark is None, after
    expect(o41).to_contain_text("one_for_one: b exited (killed) -> restart")

    # one_for_all: kill b; all three restart, a and c marked as taken down.
    o4a = nb.panel_named(panels, "one_for_all")
    before = nb.rows(o4a)
    nb.row(o4a, "b").get_by_role("button", name="kill", exact=True).click()
    for child in ("a", "b", "c"):
        expect(nb.row(o4a, child)).to_contain_text(f"restarted {before[child].restarts + 1}x",
                                                   timeout=KILL_TIMEOUT_MS)
    after = nb.rows(o4a)
    assert {c: r.mark for c, r in after.items()} == {"a": "taken down", "b": "exited", "c": "taken down"}
    nb.assert_widgets_settled()
    nb.shot(out, "panels-after-kill")
    nb.shot(None, anchor=nb.cell(at - 1))          # the lesson around the panels, as a learner sees it

    # The rest of the lesson still runs, and nothing on the page is broken.
    nb.select(at + 1)
    nb.run_menu("Run Selected Cell and All Below")
    nb.assert_ran()
    nb.assert_widgets_settled()
    expect(nb.widget_views(at)).to_have_count(1)
    tree = nb.index_of("gs.viz.supervision_tree(")
    expect(nb.outputs(tree).locator("img")).to_have_count(3)       # one tree per strategy
    nb.assert_no_popups()
    assert not nb.page_errors, f"uncaught errors in the page: {nb.page_errors}"
    assert not nb.console_errors, f"errors in the browser's console: {nb.console_errors}"


# -- 12: the gallery after Run All --------------------------------------------------------------

@pytest.fixture(scope="module")
def gallery(open_notebook, lab, process_watch):
    """The gallery after Run > Run All Cells (shared by the tests below; they only read it,
    or step the TraceStepper)."""
    nb = open_notebook(GALLERY)
    try:
        nb.run_menu("Run All Cells")
        nb.assert_ran()
        nb.assert_widgets_settled()
        yield nb
    finally:
        close_pages([nb], lab, process_watch)


def _mermaid_source_before(nb: NotebookPage, index: int) -> str:
    """The Mermaid text the notebook printed (``print(t.to_mermaid())``) just above cell ``index``."""
    for i in range(index - 1, -1, -1):
        for text in nb.outputs(i).all_text_contents():
            if text.lstrip().startswith("sequenceDiagram"):
                return text
    raise AssertionError(f"{nb.name}: no printed Mermaid text above cell {index} to compare the diagram with")


_ENTITIES = {"lt": "<", "gt": ">", "quot": '"', "amp": "&"}


def _unescape(text: str) -> str:
    """Mermaid's ``#35;`` / ``#lt;`` entities as the characters the diagram shows."""
    return re.sub(r"#(\d+|[a-z]+);",
                  lambda m: chr(int(m.group(1))) if m.group(1).isdigit() else _ENTITIES.get(m.group(1), m.group(0)),
                  text)


def _mermaid_labels(source: str) -> list[str]:
    """The participants' names, the messages' labels and the notes' texts of a sequenceDiagram, as drawn."""
    labels = []
    for line in source.splitlines()[1:]:
        line = line.strip()
        if m := re.fullmatch(r"participant (\S+)(?: as (.+))?", line):
            labels.append(m.group(2) or m.group(1))
        elif m := re.fullmatch(r"\S+?\s*(?:--?>>|--?\)|--?x|--?>)[+-]?\s*\S+?\s*:\s*(.+)", line):
            labels.append(m.group(1))
        elif m := re.fullmatch(r"Note (?:over|left of|right of) [^:]+:\s*(.+)", line):
            labels.append(m.group(1))
    return [_unescape(label) for label in labels]


def _mermaid_cells(nb: NotebookPage) -> list[int]:
    cells = [i for i in range(len(nb.sources)) if nb.cell(i).locator(".jp-RenderedMermaid").count()]
    assert cells, f"{nb.name}: no Mermaid output on the page after Run All"
    return cells


def _mermaid_missing(nb: NotebookPage, i: int) -> tuple[list[str], list[str], dict]:
    """The printed Mermaid text's labels that the drawn diagram in cell ``i`` does not show."""
    drawn = nb.mermaid(i)
    labels = _mermaid_labels(_mermaid_source_before(nb, i))
    assert len(labels) >= 3, f"cell {i}: too little Mermaid text to compare with: {labels}"
    shown = " ".join(drawn["texts"])
    return [label for label in labels if label not in shown], labels, drawn


def test_gallery_draws_a_trace_as_a_mermaid_sequence_diagram(gallery):
    nb = gallery
    cells = _mermaid_cells(nb)
    for i in cells:
        missing, labels, drawn = _mermaid_missing(nb, i)
        assert drawn["prefix"] == "data:image/svg+xml" and drawn["root"] == "svg" and not drawn["parseError"], drawn
        assert drawn["role"] == "sequence", f"cell {i}: not a sequence diagram: {drawn['role']!r}"
        # Every participant, message and note is drawn, '#' and all.
        assert not missing, f"cell {i}: the diagram lacks {missing}; it shows {drawn['texts']}"
    nb.shot(nb.cell(cells[0]).locator(".jp-OutputArea"), "mermaid")


def test_gallery_mermaid_keeps_the_hash_in_process_names(gallery):
    nb = gallery
    hashed = []
    for i in _mermaid_cells(nb):
        missing, labels, drawn = _mermaid_missing(nb, i)
        hashed += [label for label in labels if "#" in label]
        assert not missing, f"cell {i}: the diagram lacks {missing}; it shows {drawn['texts']}"
    assert hashed, "no label with a '#' to check"


def test_gallery_trace_stepper_renders_and_steps(gallery):
    nb = gallery
    at = nb.index_of("gs.viz.TraceStepper(")
    views = nb.widget_views(at)
    expect(views).to_have_count(1)
    stepper = views.first
    expect(stepper.locator(".widget-play button")).to_have_count(3)     # play, stop, repeat
    caption = stepper.locator(".widget-html-content")
    image = stepper.locator("img.widget-image")
    expect(caption).to_contain_text(re.compile(r"step 1/\d+ · "))
    nb.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    n = int(re.search(r"step 1/(\d+)", caption.text_content()).group(1))
    assert n > 1, caption.text_content()
    first = caption.text_content()
    first_src = image.get_attribute("src")
    nb.shot(nb.outputs(at), "stepper")

    stepper.locator(".noUi-handle").focus()
    nb.page.keyboard.press("ArrowRight")
    expect(caption).to_contain_text(f"step 2/{n} · ", timeout=KILL_TIMEOUT_MS)
    expect(image).not_to_have_attribute("src", first_src, timeout=KILL_TIMEOUT_MS)
    assert caption.text_content().split(" · ", 2)[-1] != first.split(" · ", 2)[-1], \
        f"step 2 says the same as step 1: {caption.text_content()!r}"
    nb.shot(nb.outputs(at), "stepper-step-2")
    nb.shot(None, anchor=nb.cell(at - 1))
    nb.assert_no_popups()
    assert not nb.page_errors, f"uncaught errors in the page: {nb.page_errors}"
    assert not nb.console_errors, f"errors in the browser's console: {nb.console_errors}"


def test_gallery_trace_stepper_image_is_not_stretched(gallery):
    nb = gallery
    image = nb.widget_views(nb.index_of("gs.viz.TraceStepper(")).locator("img.widget-image")
    nb.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    natural, shown = image.evaluate("i => [i.naturalWidth, i.clientWidth]")
    assert shown <= natural * 1.25, f"the stepper's {natural}-px-wide picture is drawn {shown} px wide"


def test_gallery_supervisor_panel_is_shown_after_run_all(gallery):
    nb = gallery
    at = nb.index_of("gs.viz.SupervisorPanel(")
    nb.shot(nb.cell(at), "panel-after-run-all")
    expect(nb.supervisor_panels(at)).to_have_count(1, timeout=1_000)     # the page has settled

"""One notebook open in JupyterLab in a real browser, driven the way a learner drives it.

:class:`NotebookPage` opens a notebook, runs cells through the **Run** menu,
waits for the kernel to finish, and reads what the page shows: the cells'
prompts and outputs, the ipywidgets views, the Mermaid diagrams, and the
rows of a ``gs.viz.SupervisorPanel``. Everything is read from the DOM, never
from the kernel, so a test sees what a learner sees.

Waiting is on page state (Playwright's ``expect`` and ``wait_for_function``),
never on fixed sleeps.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

RUN_TIMEOUT_MS = 90_000        # the slowest notebook runs in about 10 s here
WIDGET_TIMEOUT_MS = 30_000

# A code cell's prompt: "[ ]:", "[*]:", "[12]:".
_PROMPTS_JS = """() => Array.from(document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell .jp-InputPrompt'))
    .map(p => p.textContent.trim())"""

_IDLE_JS = """() => {
    const ind = document.querySelector(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
    const prompts = Array.from(document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell .jp-InputPrompt'));
    return ind !== null && ind.dataset.status === 'idle'
        && !prompts.some(p => p.textContent.includes('*'));
}"""

# Armed before a Run menu click: notes the moment any code cell shows [*] (queued or running).
# A MutationObserver sees it even when a short run is over before the next poll could.
_ARM_JS = """() => {
    window.__gsQueued = false;
    const root = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
    const obs = new MutationObserver(() => {
        if (Array.from(root.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
                .some(p => p.textContent.includes('*'))) {
            window.__gsQueued = true;
            obs.disconnect();
        }
    });
    obs.observe(root, {subtree: true, childList: true, characterData: true});
}"""

# The SVG a Mermaid output shows: JupyterLab 4.6 puts it in an <img> as a data: URL.
_MERMAID_JS = """img => {
    const src = img.getAttribute('src') || '';
    const comma = src.indexOf(',');
    const text = decodeURIComponent(src.slice(comma + 1));
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const svg = doc.documentElement;
    return {
        prefix: src.slice(0, comma),
        root: svg.nodeName,
        role: svg.getAttribute('aria-roledescription'),
        parseError: doc.getElementsByTagName('parsererror').length > 0,
        texts: Array.from(doc.querySelectorAll('text')).map(t => t.textContent.trim()).filter(t => t),
        complete: img.complete, naturalWidth: img.naturalWidth,
    };
}"""


_ERROR_BANNER = re.compile(r"Traceback \(most recent call last\)|^\s*Cell In\[\d+\], line \d+", re.M)


@dataclass
class Row:
    """One child row of a SupervisorPanel, as the page shows it."""
    status: str
    restarts: int
    mark: str | None        # "exited", "taken down" or None
    text: str


def parse_row(text: str) -> tuple[str, Row]:
    """``"b · running · restarted 1x · exited"`` -> ``("b", Row("running", 1, "exited", ...))``."""
    parts = [p.strip() for p in text.strip().split(" · ")]
    if len(parts) < 2:
        raise AssertionError(f"a SupervisorPanel row should read 'id · status ...', the page shows {text!r}")
    child = re.sub(r" \(.*\)$", "", parts[0])          # "b (name)" -> "b"
    restarts, mark = 0, None
    for part in parts[2:]:
        m = re.fullmatch(r"restarted (\d+)x", part)
        if m:
            restarts = int(m.group(1))
        elif part in ("exited", "taken down"):
            mark = part
        else:
            raise AssertionError(f"unexpected part {part!r} in SupervisorPanel row {text!r}")
    return child, Row(parts[1], restarts, mark, text)


class NotebookPage:
    """A notebook opened in JupyterLab (``lab`` is a :class:`labserver.LabServer`)."""

    def __init__(self, page: Page, lab, name: str):
        self.page = page
        self.lab = lab
        self.name = name
        self.stem = Path(name).stem
        cells = json.loads((lab.root / name).read_text())["cells"]
        self.sources = ["".join(c["source"]) for c in cells]
        self.kinds = [c["cell_type"] for c in cells]
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    # -- locating ---------------------------------------------------------------------------

    @property
    def panel(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def cell(self, index: int) -> Locator:
        return self.panel.locator(".jp-Notebook .jp-Cell").nth(index)

    def index_of(self, snippet: str) -> int:
        """The index of the only code cell whose source contains ``snippet``."""
        found = [i for i, (kind, src) in enumerate(zip(self.kinds, self.sources))
                 if kind == "code" and snippet in src]
        if len(found) != 1:
            raise AssertionError(f"{self.name}: expected one code cell containing {snippet!r}, "
                                 f"found cells {found}")
        return found[0]

    def outputs(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-OutputArea-output")

    # -- opening and running ----------------------------------------------------------------

    def open(self) -> None:
        """Open the notebook (a fresh workspace), wait for all its cells and an idle kernel."""
        url = (f"{self.lab.url}/lab/tree/{urllib.parse.quote(self.name)}?reset&token="
               f"{urllib.parse.quote(self.lab.token)}")
        self.page.goto(url)
        expect(self.panel.locator(".jp-Notebook .jp-Cell")).to_have_count(len(self.sources),
                                                                          timeout=60_000)
        expect(self.panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
            "data-status", "idle", timeout=60_000)
        self.assert_no_popups()

    def select(self, index: int) -> None:
        """Select a cell in command mode, as clicking its prompt does."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").click()
        expect(cell).to_have_class(re.compile(r"\bjp-mod-selected\b"))

    def run_menu(self, item: str) -> None:
        """Click **Run** > ``item`` and wait until every queued cell ran and the kernel is idle."""
        self.page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        entry = self.page.locator(".lm-Menu-item", has=self.page.locator(
            ".lm-Menu-itemLabel", has_text=re.compile("^" + re.escape(item) + "$")))
        expect(entry).to_be_visible()
        expect(entry).not_to_have_class(re.compile(r"\blm-mod-disabled\b"))
        self.page.evaluate(_ARM_JS)
        entry.click()
        # Queued cells show [*] at once; then wait for none, with the kernel idle.
        self.page.wait_for_function("() => window.__gsQueued === true", timeout=10_000)
        self.page.wait_for_function(_IDLE_JS, timeout=RUN_TIMEOUT_MS)

    def prompts(self) -> list[str]:
        return self.page.evaluate(_PROMPTS_JS)

    def code_indices(self) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k == "code"]

    def assert_ran(self, first: int = 0, last: int | None = None) -> None:
        """Every code cell in [first, last] shows an execution count, and no output is an error."""
        last = len(self.sources) - 1 if last is None else last
        prompts = dict(zip(self.code_indices(), self.prompts()))
        missed = [i for i, p in prompts.items() if first <= i <= last and not re.fullmatch(r"\[\d+\]:", p)]
        errors = self.error_outputs()
        assert not errors, f"{self.name}: error outputs after running: {errors}"
        assert not missed, (f"{self.name}: code cells {missed} did not run (prompts "
                            f"{[prompts[i] for i in missed]}); a cell above raised or was aborted")

    def error_outputs(self) -> list[str]:
        """The errors the page shows (IPython's traceback, or its SyntaxError banner), shortened."""
        texts = self.panel.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_text_contents()
        return [t.strip()[:400] for t in texts if _ERROR_BANNER.search(t)]

    def assert_no_popups(self) -> None:
        """Nothing covers the notebook: no dialog, no notification toast (news, updates, errors)."""
        expect(self.page.locator(".jp-Dialog")).to_have_count(0)
        toasts = self.page.locator(".Toastify__toast")
        assert toasts.count() == 0, f"notifications over the notebook: {toasts.all_text_contents()}"

    # -- widgets ----------------------------------------------------------------------------

    def assert_widgets_settled(self) -> None:
        """No widget output still says "Loading widget...", and none says "Error displaying widget"
        (the browser's console errors are in the message: the widget manager logs why there)."""
        try:
            expect(self.panel.get_by_text("Loading widget...")).to_have_count(0, timeout=WIDGET_TIMEOUT_MS)
            expect(self.panel.get_by_text("Error displaying widget")).to_have_count(0)
        except AssertionError as e:
            raise AssertionError(f"{self.name}: {e}\nconsole errors: {self.console_errors}") from None

    def widget_views(self, index: int) -> Locator:
        """The top-level ipywidgets views in a cell's output area."""
        return self.outputs(index).locator(":scope > .jupyter-widgets")

    def supervisor_panels(self, index: int) -> Locator:
        """The SupervisorPanel views in a cell's output (a panel is a VBox with kill buttons)."""
        return self.outputs(index).locator(".widget-vbox").filter(
            has=self.page.locator(".widget-button", has_text=re.compile(r"^kill$")))

    @staticmethod
    def panel_named(panels: Locator, label: str) -> Locator:
        """The panel whose supervisor header starts with ``label · ``."""
        return panels.filter(has_text=re.compile(rf"(^|\s){re.escape(label)} · "))

    @staticmethod
    def rows(panel: Locator) -> dict[str, Row]:
        """``{child id: Row}`` read from the panel's DOM."""
        texts = panel.locator(".widget-hbox").filter(
            has=panel.page.locator(".widget-button", has_text=re.compile(r"^kill$"))
        ).locator(".widget-html-content").all_text_contents()
        rows = dict(parse_row(t) for t in texts)
        assert rows, "the SupervisorPanel shows no child rows"
        return rows

    @staticmethod
    def row(panel: Locator, child: str) -> Locator:
        return panel.locator(".widget-hbox").filter(
            has=panel.page.locator(".widget-html-content", has_text=re.compile(rf"^{re.escape(child)} · ")))

    # -- Mermaid ----------------------------------------------------------------------------

    def mermaid(self, index: int) -> dict:
        """What the Mermaid output of a cell draws: the decoded SVG's role and texts."""
        out = self.cell(index).locator(".jp-RenderedMermaid")
        expect(out).to_have_count(1, timeout=WIDGET_TIMEOUT_MS)
        expect(out).not_to_have_class(re.compile(r"\bjp-mod-warning\b"))     # a parse error shows so
        img = out.locator("figure img")
        expect(img).to_have_count(1, timeout=WIDGET_TIMEOUT_MS)
        self.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        return img.evaluate(_MERMAID_JS)

    # -- pictures ---------------------------------------------------------------------------

    def settle(self) -> None:
        """Wait two animation frames: cells scrolled into view are painted only then (JupyterLab's
        default windowing uses ``content-visibility: auto``)."""
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def shot(self, what: Locator | None, label: str = "", anchor: Locator | None = None) -> Path:
        """Save a screenshot to build/screenshots: of an element, or of the page with ``anchor``
        scrolled to the top of the notebook. An element taller than the window gets a taller
        window for the shot (the notebook's toolbar would cover its top otherwise)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.stem}{'-' + label if label else ''}.png"
        if what is None:
            if anchor is not None:
                anchor.evaluate("e => e.scrollIntoView({block: 'start'})")
            self.settle()
            self.page.screenshot(path=str(path))
            return path
        size = self.page.viewport_size
        what.evaluate("e => e.scrollIntoView({block: 'start'})")
        self.settle()
        height = what.evaluate("e => e.getBoundingClientRect().height")
        if height > size["height"] - 200:
            self.page.set_viewport_size({"width": size["width"], "height": int(height) + 300})
            what.evaluate("e => e.scrollIntoView({block: 'center'})")
            self.settle()
        try:
            what.screenshot(path=str(path))
        finally:
            if self.page.viewport_size != size:
                self.page.set_viewport_size(size)
        return path


def close_pages(notebooks, lab, watch) -> None:
    """Close the notebooks' pages and shut their kernels down (noting their processes for ``watch``)."""
    watch.note_children()
    for nb in list(notebooks):
        try:
            nb.page.context.close()
        except Exception:       # closed already: the module's net may close one twice
            pass
    if lab.proc is not None and lab.proc.poll() is None:
        watch.note(lab.kernel_processes())
        names = {nb.name for nb in notebooks}
        lab.shutdown_kernels(lambda session: session["path"] in names)

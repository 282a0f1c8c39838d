"""Notebook tooling for the course: edit, rebuild, index, run.

The committed ``.ipynb`` files are the only source. To edit one comfortably,
turn it into a percent-format script and back::

    python tools/nb.py to-py notebooks/03_genserver_template.ipynb /tmp/03.py
    $EDITOR /tmp/03.py
    python tools/nb.py build /tmp/03.py notebooks/03_genserver_template.ipynb

``build`` (and ``refresh`` for a notebook edited in JupyterLab) executes the
notebook with papermill and keeps only what nbval compares: the text outputs
of cells marked ``# NBVAL_CHECK_OUTPUT``. Everything else (pictures, widgets,
timings) is stripped, so the committed files stay small and deterministic.

``index`` regenerates ``notebooks/README.md`` and the previous/next links of
every notebook; ``run`` executes every notebook with papermill into
``build/`` and prints a table (``make run``).

Percent format: ``# %% [markdown]`` starts a markdown cell whose lines are
``# ``-prefixed; ``# %%`` starts a code cell; ``# %% tags=["parameters"]``
gives the cell tags.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
import tempfile
import time

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHECK = "NBVAL_CHECK_OUTPUT"
TEXT_MIMES = ("text/plain",)
NAV_START = "<!-- nav -->"

# -- percent format ---------------------------------------------------------------------


def to_py(nb) -> str:
    """A notebook as a percent-format script (outputs dropped)."""
    parts = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        suffix = f" tags={json.dumps(tags)}" if tags else ""
        if cell.cell_type == "markdown":
            body = "\n".join(("# " + line) if line else "#" for line in cell.source.split("\n"))
            parts.append(f"# %% [markdown]{suffix}\n{body}")
        else:
            parts.append(f"# %%{suffix}\n{cell.source}")
    return "\n\n".join(parts) + "\n"


_HEADER = re.compile(r"^# %%(?: \[(markdown)\])?(?: tags=(\[.*\]))?\s*$")


def from_py(text: str):
    """Parse a percent-format script into a notebook."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    current = None
    lines: list[str] = []

    def flush():
        if current is None:
            return
        kind, tags = current
        while lines and not lines[-1].strip():
            lines.pop()
        if kind == "markdown":
            src = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines)
            cell = nbformat.v4.new_markdown_cell(src)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)

    for line in text.split("\n"):
        m = _HEADER.match(line)
        if m:
            flush()
            current = ("markdown" if m.group(1) else "code", json.loads(m.group(2)) if m.group(2) else [])
            lines = []
        elif current is not None:
            lines.append(line)
    flush()
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    return nb


# -- outputs -------------------------------------------------------------------------------


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and CHECK in cell.source


def keep_checked_outputs(nb):
    """Strip every output except the text outputs of checked cells.

    Checked cells keep an execution count (nbval treats a cell with outputs and
    no count as unrun); the counts are renumbered 1, 2, ... so they never churn.
    """
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count if is_checked(cell) else None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if not is_checked(cell):
            cell.outputs = []
            continue
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stdout":
                kept.append(out)
            elif out.output_type in ("execute_result", "display_data"):
                data = {k: v for k, v in out.get("data", {}).items() if k in TEXT_MIMES}
                if data:
                    out["data"] = data
                    out["metadata"] = {}
                    if out.output_type == "execute_result":
                        out["execution_count"] = count
                    kept.append(out)
            elif out.output_type == "error":
                raise RuntimeError(f"checked cell raised: {out.ename}: {out.evalue}")
        cell.outputs = kept
    nb.metadata.pop("papermill", None)
    for key in list(nb.metadata):
        if key not in ("kernelspec", "language_info"):
            nb.metadata.pop(key)
    return nb


def execute(src: pathlib.Path, dest: pathlib.Path, parameters: dict | None = None, cwd=None):
    """Run a notebook with papermill; returns the executed notebook."""
    import papermill
    papermill.execute_notebook(str(src), str(dest), parameters=parameters or {},
                               cwd=str(cwd or src.parent), progress_bar=False, kernel_name="python3")
    return nbformat.read(dest, as_version=4)


def rebuild(nb, dest: pathlib.Path) -> None:
    """Execute ``nb`` in the folder of ``dest`` and write it there with only its checked outputs."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = pathlib.Path(tmp) / dest.name
        nbformat.write(nb, raw)
        done = execute(raw, pathlib.Path(tmp) / ("out-" + dest.name), cwd=dest.parent)
    for cell, fresh in zip(nb.cells, done.cells):
        if cell.cell_type == "code":
            cell.outputs = fresh.outputs
    nbformat.write(keep_checked_outputs(nb), dest)


# -- index and navigation ------------------------------------------------------------------


def course_notebooks() -> list[pathlib.Path]:
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def title_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "(untitled)"


def summary_of(nb) -> str:
    """The notebook's one-line summary: the first paragraph after its title."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            paras = [p.strip() for p in cell.source.split("\n\n")]
            for p in paras[1:]:
                if p and not p.startswith(("#", "<!--", "*", "-", "|", ">")):
                    return " ".join(p.split())
            break
    return ""


def nav_line(paths: list[pathlib.Path], i: int) -> str:
    prev = f"[← {paths[i - 1].stem}]({paths[i - 1].name})" if i > 0 else "(start)"
    nxt = f"[{paths[i + 1].stem} →]({paths[i + 1].name})" if i + 1 < len(paths) else "(end)"
    return f"{NAV_START}\n{prev} · [index](README.md) · {nxt}"


def with_nav(nb, line: str):
    """Set the navigation line at the top of the first and bottom of the last markdown cell."""
    md = [c for c in nb.cells if c.cell_type == "markdown"]
    if not md:
        return nb
    for cell, top in ((md[0], True), (md[-1], False)):
        body = cell.source.split(NAV_START)[0].rstrip() if not top else re.sub(
            rf"^{re.escape(NAV_START)}\n[^\n]*\n\n", "", cell.source)
        cell.source = f"{line}\n\n{body}" if top else f"{body}\n\n{line}"
    return nb


def index_text(paths: list[pathlib.Path]) -> str:
    head = (NOTEBOOKS / "README.head.md").read_text()
    rows = ["| # | notebook | what you learn |", "|---|---|---|"]
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        rows.append(f"| {p.name[:2]} | [{title_of(nb)}]({p.name}) | {summary_of(nb)} |")
    tail_path = NOTEBOOKS / "README.tail.md"
    tail = tail_path.read_text() if tail_path.exists() else ""
    return head.rstrip() + "\n\n" + "\n".join(rows) + "\n\n" + tail.lstrip()


def index(write: bool = True) -> list[str]:
    """Regenerate notebooks/README.md and the nav links; returns the files that changed."""
    paths = course_notebooks()
    changed = []
    for i, p in enumerate(paths):
        nb = nbformat.read(p, as_version=4)
        before = json.dumps(nb, sort_keys=True)
        with_nav(nb, nav_line(paths, i))
        if json.dumps(nb, sort_keys=True) != before:
            changed.append(str(p.relative_to(ROOT)))
            if write:
                nbformat.write(nb, p)
    readme = NOTEBOOKS / "README.md"
    text = index_text(paths)
    if not readme.exists() or readme.read_text() != text:
        changed.append(str(readme.relative_to(ROOT)))
        if write:
            readme.write_text(text)
    return changed


# -- run -----------------------------------------------------------------------------------


def run(paths: list[pathlib.Path], out_dir: pathlib.Path) -> bool:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, ok_all = [], True
    for p in paths:
        t0 = time.monotonic()
        try:
            execute(p, out_dir / p.name, cwd=p.parent)
            status = "ok"
        except Exception as e:  # noqa: BLE001 - the table reports it
            status = f"error: {type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"
            ok_all = False
        rows.append((p.relative_to(ROOT) if p.is_relative_to(ROOT) else p, time.monotonic() - t0, status))
    width = max(len(str(r[0])) for r in rows)
    print(f"{'notebook':{width}}  seconds  result")
    for name, secs, status in rows:
        print(f"{str(name):{width}}  {secs:7.1f}  {status}")
    return ok_all


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-py", help="notebook -> percent script")
    a.add_argument("notebook")
    a.add_argument("script")
    a = sub.add_parser("build", help="percent script -> executed notebook with checked outputs")
    a.add_argument("script")
    a.add_argument("notebook")
    a = sub.add_parser("refresh", help="re-execute notebooks and keep only their checked outputs")
    a.add_argument("notebooks", nargs="+")
    a = sub.add_parser("index", help="regenerate notebooks/README.md and prev/next links")
    a.add_argument("--check", action="store_true", help="fail if anything is out of date")
    a = sub.add_parser("run", help="execute notebooks with papermill into build/ and print a table")
    a.add_argument("notebooks", nargs="*")
    a.add_argument("--out", default=str(ROOT / "build" / "run"))
    args = ap.parse_args(argv)
    if args.cmd == "to-py":
        pathlib.Path(args.script).write_text(to_py(nbformat.read(args.notebook, as_version=4)))
    elif args.cmd == "build":
        dest = pathlib.Path(args.notebook).resolve()
        rebuild(from_py(pathlib.Path(args.script).read_text()), dest)
        if dest.parent == NOTEBOOKS:
            index()
    elif args.cmd == "refresh":
        for p in args.notebooks:
            path = pathlib.Path(p).resolve()
            rebuild(nbformat.read(path, as_version=4), path)
    elif args.cmd == "index":
        changed = index(write=not args.check)
        if args.check and changed:
            print("out of date:", *changed, sep="\n  ")
            return 1
    elif args.cmd == "run":
        paths = [pathlib.Path(p).resolve() for p in args.notebooks] or course_notebooks()
        return 0 if run(paths, pathlib.Path(args.out)) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

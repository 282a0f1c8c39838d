"""The course's notebooks keep their shape: index in sync, the anatomy, small deterministic outputs."""

import json
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
import nb as nbtool  # noqa: E402  (tools/nb.py)


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def test_there_is_a_notebook_for_every_step_of_the_course():
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(len(numbers))], numbers
    assert len(numbers) >= 12


def test_index_and_navigation_links_are_in_sync():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "nb.py"), "index", "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_index_lists_every_notebook_with_its_title():
    readme = (ROOT / "notebooks" / "README.md").read_text()
    for p in NOTEBOOKS:
        title = nbtool.title_of(nbformat.read(p, as_version=4))
        assert f"[{title}]({p.name})" in readme


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_anatomy(path):
    cells = _cells(path)
    md = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    code = [c for c in cells if c.cell_type == "code"]
    assert cells[0].cell_type == "markdown" and re.search(rf"^# {path.name[:2]} · ", cells[0].source, re.M)
    assert "**Objectives**" in md and "## Key points" in md
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one parameters cell"
    setup = [c for c in code if "gs.reset()" in c.source and "import genserver_lite as gs" in c.source]
    assert len(setup) == 1, "one setup cell imports genserver_lite and resets it"
    last = code[-1]
    assert nbtool.is_checked(last) and "gs.reset()" in last.source and "gs.processes()" in last.source
    assert "".join(o.get("text", "") for o in last.outputs).strip() == "[]"
    assert sum(nbtool.is_checked(c) for c in code) >= 5, "at least 5 checked cells"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_only_small_text_outputs_of_checked_cells_are_committed(path):
    for cell in _cells(path):
        if cell.cell_type != "code":
            continue
        if not nbtool.is_checked(cell):
            assert cell.outputs == [], f"an unchecked cell keeps outputs: {cell.source[:60]!r}"
        for out in cell.outputs:
            blob = json.dumps(out)
            assert "image/png" not in blob and out.output_type != "error"
            assert not re.search(r"<0\.\d+\.0>|0x[0-9a-f]{8,}", blob), f"a pid or address in {cell.source[:60]!r}"
    assert path.stat().st_size < 150_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_define_no_elixir_pasted_from_the_source(path):
    """The source's module names (Raxol.*) never appear in a code block: snippets are the course's own."""
    for cell in _cells(path):
        for block in re.findall(r"```elixir\n(.*?)```", cell.source, re.S):
            assert "Raxol" not in block


# The source document's sections (its "## area › ### pattern" headings): the course must teach each.
SOURCE_SECTIONS = [
    "Basic GenServer Structure › Standard Template",
    "State Management Patterns › Complex State with Struct",
    "State Management Patterns › State Versioning for Hot Code Upgrades",
    "Call/Cast/Info Patterns › Timeout Handling",
    "Call/Cast/Info Patterns › Batching Operations",
    "Supervision Patterns › GenServer Under Supervisor",
    "Supervision Patterns › Dynamic GenServer Creation",
    "Registry Patterns › Named GenServers with Registry",
    "Error Handling Patterns › Retry Logic",
    "Error Handling Patterns › Circuit Breaker",
    "Testing GenServers › Test Helper for GenServers",
    "Testing GenServers › Testing with Mox",
    "Performance Patterns › Pooling GenServers",
    "Best Practices",
]


def _seed_sections():
    """The seed's sections, read from the source document when this checkout can see it."""
    for path in (ROOT.parent / "shared" / "seed" / "genserver_patterns.md",
                 pathlib.Path("/work/shared/seed/genserver_patterns.md")):
        if path.exists():
            out, area = [], None
            for line in path.read_text().splitlines():
                if line.startswith("## "):
                    area = line[3:].strip()
                    out.append(area)
                elif line.startswith("### "):
                    if out and out[-1] == area:
                        out.pop()       # an area with patterns is listed by its patterns
                    out.append(f"{area} › {line[4:].strip()}")
            return out
    return None


def _mapping_rows():
    readme = (ROOT / "notebooks" / "README.md").read_text()
    rows = re.findall(r"^\| ([^|]+?) \| \[(\d\d)\]\(([^)]+)\) \| ([^|]+?) \|$", readme, re.M)
    return [(section, nb, target, heading) for section, nb, target, heading in rows]


def test_the_source_section_list_is_the_source_documents():
    seed = _seed_sections()
    if seed is None:
        pytest.skip("the source document is not beside this checkout; the list above is its copy")
    assert seed == SOURCE_SECTIONS


def test_every_source_section_maps_to_a_notebook_cell_heading_that_exists():
    rows = _mapping_rows()
    assert [r[0] for r in rows] == SOURCE_SECTIONS
    for section, number, target, heading in rows:
        path = ROOT / "notebooks" / target
        assert path.exists() and path.name.startswith(number), (section, target)
        headings = [line.lstrip("#").strip() for c in _cells(path) if c.cell_type == "markdown"
                    for line in c.source.splitlines() if line.startswith("##")]
        assert heading in [h.replace("`", "") for h in headings] or heading in headings, \
            f"{section}: {target} has no heading {heading!r}"

"""The install story: pyproject.toml and environment.yml must agree (conda cannot run here)."""

import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_deps() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    deps = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        deps += extra
    return {_name(d) for d in deps}


def _environment_deps() -> tuple[set[str], list[str]]:
    """The conda and pip entries under ``dependencies:`` (a two-level list, read by hand)."""
    conda, pip = set(), []
    section = None
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            section = line.split(":")[0]
            continue
        if section != "dependencies":
            continue
        item = line.strip()[2:].strip()
        if item == "pip:":
            continue
        if line.startswith("      - "):
            pip.append(item)
        else:
            conda.add(_name(item))
    return conda - {"python", "pip"}, pip


def test_environment_lists_the_same_dependencies_as_pyproject():
    conda, _ = _environment_deps()
    assert conda == _pyproject_deps()


def test_environment_installs_this_package_editable():
    _, pip = _environment_deps()
    assert "-e ." in pip


def test_the_core_packages_the_course_needs_are_runtime_dependencies():
    deps = {_name(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert {"jupyterlab", "ipywidgets", "nbval", "matplotlib", "papermill"} <= deps


def test_environment_uses_conda_forge():
    assert "conda-forge" in (ROOT / "environment.yml").read_text()


def test_make_lab_serves_the_whole_course_so_links_to_exercises_work():
    import shlex
    import subprocess
    done = subprocess.run(["make", "-n", "--always-make", "--no-print-directory", "lab"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)     # (also when run under make)
    assert done.returncode == 0, done.stderr
    line = done.stdout.replace("\\\n", " ").strip().splitlines()[-1]
    args = shlex.split(line)
    assert args[0].endswith("jupyter") and args[1] == "lab", line
    roots = [a.split("=", 1)[1] for a in args if a.startswith("--ServerApp.root_dir=")]
    assert [pathlib.Path(r).resolve() for r in roots] == [ROOT]     # not notebooks/: ../exercises must be inside
    opened = [a for a in args[2:] if not a.startswith("-")]
    assert opened == ["notebooks/00_orientation.ipynb"] and (ROOT / opened[0]).is_file()
    links = re.findall(r"\(\.\./(exercises/[\w.]+\.ipynb)\)", (ROOT / "notebooks" / "03_genserver_template.ipynb").read_text())
    assert links and all((ROOT / link).is_file() for link in links)

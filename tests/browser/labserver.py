"""A throwaway JupyterLab server for the browser tests, and a watch on the processes it starts.

:class:`LabServer` starts ``python -m jupyterlab`` (the .venv's python, so
its ``python3`` kernel is the .venv's ipykernel) as a subprocess in its own
process group, on 127.0.0.1 and a free port, with a token the tests know. It
serves a temporary root holding copies of the course notebooks, and every
directory Jupyter writes to (config, data, runtime, IPython, lab settings and
workspaces) is temporary too: nothing touches the user's own. The settings
turn off what would pop up over the notebook (the news question, update
checks, the announcements plugin) and autosave (the copies are never written
back).

:class:`ProcessWatch` lists the processes started below this pytest process,
so a fixture can prove that none is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
TOKEN = "genserver-lite-browser-tests"

# User settings (JUPYTERLAB_SETTINGS_DIR): what the learner's own settings would say.
SETTINGS = {
    # The "Would you like to receive official Jupyter news?" toast, and update checks.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    # The notebooks are copies, but nothing should be written behind the test's back.
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}

# Jupyter config (JUPYTER_CONFIG_DIR): the server-side switches.
SERVER_CONFIG = {
    "LabApp": {
        "news_url": None,                                         # no news feed at all
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",                          # no PyPI queries
    },
    "ServerApp": {"terminals_enabled": False},
}
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """One JupyterLab server on a temporary root; :meth:`stop` always leaves nothing running.

    Attributes:
        url: the base URL, ``http://127.0.0.1:<port>``.
        root: the temporary directory the server serves (copies of the notebooks).
        proc: the ``Popen`` of the server (leader of its own process group).
        log_path: the server's combined stdout and stderr.
    """

    def __init__(self, python: str | None = None):
        self.python = python or sys.executable
        self.token = TOKEN
        self.tmp = Path(tempfile.mkdtemp(prefix="gs-browser-"))
        self.root = self.tmp / "root"
        self.root.mkdir()
        for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
            shutil.copy2(nb, self.root / nb.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.tmp / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None
        self.env = self._environment()

    def _environment(self) -> dict:
        dirs = {name: self.tmp / sub for name, sub in [
            ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
            ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces")]}
        for d in dirs.values():
            d.mkdir()
        for rel, values in SETTINGS.items():
            f = dirs["JUPYTERLAB_SETTINGS_DIR"] / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(values, indent=2))
        (dirs["JUPYTER_CONFIG_DIR"] / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG))
        (dirs["JUPYTER_CONFIG_DIR"] / "labconfig").mkdir()
        (dirs["JUPYTER_CONFIG_DIR"] / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "IPYTHON")) and k != "JPY_SESSION_NAME"}
        env.update({k: str(v) for k, v in dirs.items()})
        env["JUPYTER_PLATFORM_DIRS"] = "0"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # -- running --------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and return once ``/api/status`` answers; raise with its log if it won't."""
        cmd = [self.python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={TOKEN}",
               f"--ServerApp.root_dir={self.root}"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")     # CI runs as root
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode} before answering "
                                   f"/api/status; its log:\n{self.log_tail()}")
            try:
                status = self.api("GET", "/api/status")
                if "started" in status:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer /api/status within {timeout} s; "
                                   f"its log:\n{self.log_tail()}")
            time.sleep(0.2)     # polling a subprocess's HTTP port: there is no message to wait on

    def api(self, method: str, path: str, timeout: float = 5.0, raw: bool = False):
        """Call the server with the token: the decoded JSON answer (None if empty), or the text."""
        req = urllib.request.Request(self.url + path, method=method,
                                     headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        if raw:
            return body.decode()
        return json.loads(body) if body else None

    def processes(self) -> list[psutil.Process]:
        """The server and everything below it (its kernels among them), while it runs."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            top = psutil.Process(self.proc.pid)
            return [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kernel_processes(self) -> list[psutil.Process]:
        """The kernels the server runs (``-m ipykernel_launcher`` below the server)."""
        out = []
        for p in self.processes()[1:]:
            try:
                if "ipykernel_launcher" in p.cmdline():
                    out.append(p)
            except psutil.NoSuchProcess:
                pass
        return out

    def shutdown_kernels(self, which=None) -> None:
        """Shut down the sessions ``which(session)`` selects (all by default) and their kernels,
        through the REST API; with ``which`` None, also any kernel without a session."""
        for s in self.api("GET", "/api/sessions"):
            if which is None or which(s):
                self.api("DELETE", f"/api/sessions/{s['id']}", timeout=30.0)
        if which is None:
            for k in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{k['id']}", timeout=30.0)

    def stop(self) -> list[psutil.Process]:
        """Stop the server, its kernels and its process group, whatever state they are in.

        Returns the processes that ran below it, for :class:`ProcessWatch` to check they are gone.
        Kernels run in sessions of their own (jupyter_client starts them so), so they are
        shut down through the API first and killed by pid if they outlive the server.
        """
        if self.proc is None:
            return []
        tree = self.processes()
        if self.proc.poll() is None:
            try:
                self.shutdown_kernels()
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass        # the group's SIGTERM and the kills below still stop everything
            tree += [p for p in self.processes() if p not in tree]
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)        # anything left in its group
        except ProcessLookupError:
            pass
        _, alive = psutil.wait_procs(tree, timeout=10)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        return tree

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return f"(no log: {e})"

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class ProcessWatch:
    """The processes below this pytest process, before and after; plus every process seen.

    Processes are keyed by (pid, create_time), so a reused pid is not mistaken for a survivor.
    """

    def __init__(self):
        self.me = psutil.Process()
        self.before = self._below()
        self.seen: dict = {}

    def _below(self) -> dict:
        out = {}
        for p in self.me.children(recursive=True):
            try:
                out[(p.pid, p.create_time())] = p
            except psutil.NoSuchProcess:
                pass
        return out

    def note(self, procs) -> None:
        """Remember processes that must be gone at the end (e.g. kernels, once reparented)."""
        for p in procs:
            try:
                self.seen[(p.pid, p.create_time())] = p
            except psutil.NoSuchProcess:
                pass

    def note_children(self) -> None:
        """Remember everything below this process now (the server, its kernels, the browser)."""
        self.note(self._below().values())

    def leftovers(self, timeout: float = 10.0) -> list[str]:
        """Descriptions of processes started since :meth:`__init__` that are still running."""
        candidates = {**self._below(), **self.seen}
        candidates = {k: p for k, p in candidates.items() if k not in self.before}
        _, alive = psutil.wait_procs(list(candidates.values()), timeout=timeout)
        out = []
        for p in alive:
            try:
                if p.status() == psutil.STATUS_ZOMBIE:
                    continue
                out.append(f"{p.pid} {' '.join(p.cmdline())[:160]}")
            except psutil.NoSuchProcess:
                pass
        return out

"""A lesson as a notebook: converted by jupytext as `make notebooks` does, executed by nbclient on the kernel set-up
installs, with LessonRun's interface (so the script tests' checks run on a notebook unchanged)."""
import functools
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from .machine import LESSONS, ROOT, READY_TIMEOUT, STOP_TIMEOUT, TIME_SCALE, bpf_objects_of, programs_left
from .runner import LessonRun, give_priority
import facts  # noqa: E402,I100  (lessons/facts.py, on sys.path since .machine)


# ---------------------------------------------------------------- notebooks
# A lesson as a notebook: converted by jupytext as `make notebooks` does, executed by nbclient on the kernel that
# set-up installs, while the test causes the events. NotebookRun has LessonRun's interface, so the script tests'
# checks run on a notebook unchanged; stop(SIGINT) is Jupyter's interrupt button (it sends SIGINT to the kernel).
# What `make notebooks` passes to jupytext (scripts/notebook-metadata.json, which the Makefile reads too): the
# kernel set-up installs into .venv (the distro's python3, which sees bcc), and no notebook metadata in the script.
NOTEBOOK_METADATA = json.loads((ROOT / "scripts" / "notebook-metadata.json").read_text())
NOTEBOOK_KERNEL = NOTEBOOK_METADATA["kernelspec"]["name"]


def notebook_tools_missing():
    """Why notebooks cannot be executed here, or None."""
    try:
        import jupytext, nbclient  # noqa: F401
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError as e:
        return "%s in %s: `sudo make setup` installs requirements.txt into .venv" % (e, sys.executable)
    try:
        KernelSpecManager().get_kernel_spec(NOTEBOOK_KERNEL)
    except NoSuchKernel:
        return "no Jupyter kernel %r for %s: `sudo make setup` installs it" % (NOTEBOOK_KERNEL, sys.executable)
    return None


def lesson_notebook(script, directory):
    """lessons/<script> as the notebook `make notebooks` writes, at directory/<name>.ipynb; returns that path."""
    out = Path(directory) / (Path(script).stem + ".ipynb")
    out.write_text(_converted(script, (LESSONS / script).stat().st_mtime_ns))
    return out


@functools.lru_cache(maxsize=None)
def _converted(script, mtime_ns):
    """Converted with the jupytext command line, as `make notebooks` does. Each lesson's notebook runs in several
    tests, on several of make test's workers, and each conversion is a Python start that imports jupytext (0.45 s
    of CPU on a machine whose two cores make test keeps busy): so once per script, jupytext version and metadata,
    into the cache the lessons build their programs in (facts.cache_dir()), and once per process from there."""
    from importlib.metadata import version
    digest = hashlib.sha256((LESSONS / script).read_bytes())
    digest.update(json.dumps([NOTEBOOK_METADATA, version("jupytext")], sort_keys=True).encode())
    cached = Path(facts.cache_dir()) / "notebooks" / (digest.hexdigest()[:16] + ".ipynb")
    if cached.exists():
        return cached.read_text()
    cached.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    new = cached.with_name("%s.new%d.ipynb" % (cached.stem, os.getpid()))
    subprocess.run([sys.executable, "-m", "jupytext", "--quiet", "--to", "ipynb", "--update-metadata",
                    json.dumps(NOTEBOOK_METADATA), "--output", str(new), str(LESSONS / script)],
                   check=True, timeout=60 * TIME_SCALE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.replace(new, cached)   # whole or not at all, when two workers convert it at once
    return cached.read_text()


def with_notebook_args(nb, args):
    """papermill's convention: a cell tagged injected-parameters, right after the cell tagged parameters,
    overrides the lesson's NOTEBOOK_ARGS."""
    import nbformat
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("NOTEBOOK_ARGS = %r" % [str(a) for a in args],
                                                         metadata={"tags": ["injected-parameters"]}))
    return nb


class _NotebookProcess:
    """The part of subprocess.Popen that LessonRun uses, for a notebook being executed: poll() is None while
    cells run; send_signal() signals the kernel, as Jupyter's interrupt button does."""

    def __init__(self, run):
        self.run = run

    @property
    def pid(self):
        return self.run.kernel_pid

    @property
    def returncode(self):
        return None if self.run._thread.is_alive() else (1 if self.run.error else 0)

    def poll(self):
        return self.returncode

    def send_signal(self, sig):
        os.kill(self.run.kernel_pid, sig)


class NotebookRun(LessonRun):
    """A lesson's notebook executed cell by cell by nbclient in a thread, on a new kernel. After the last cell the
    kernel is still alive, as in Jupyter: what it still holds of BPF is recorded in `leftovers` (it must be
    nothing), then it is shut down. lines/err_lines: the stdout/stderr of all cells; an error output (a cell
    that raised, SystemExit included) goes to err_lines and makes the return code 1."""

    def __init__(self, script, args=None, directory=None):
        import nbformat
        from nbclient import NotebookClient
        self.script = LESSONS / script
        self.path = lesson_notebook(script, directory)
        self.nb = nbformat.read(str(self.path), as_version=4)
        if args is not None:
            with_notebook_args(self.nb, args)
        self.argv = ["notebook", str(self.path), "NOTEBOOK_ARGS=%r" % (args if args is None else list(map(str, args)))]
        self.lines, self.err_lines = [], []
        self.returncode = self.stop_seconds = self.error = self.kernel_pid = None
        self.leftovers, self.prog_ids = None, set()
        # The kernel runs where Jupyter runs a notebook beside the script: in the lesson's folder. It talks to
        # nbclient over unix sockets in this run's own directory, not TCP ports: jupyter_client picks free ports
        # before the kernel binds them, so kernels started at once by make test's workers can race for one
        # ("Kernel died before replying to kernel_info", jupyter_client#487; seen once with four workers).
        from traitlets.config import Config
        sockets = Config({"KernelManager": {"transport": "ipc", "ip": str(self.path.parent / "kernel")}})
        self.client = NotebookClient(self.nb, timeout=int(60 * TIME_SCALE), startup_timeout=int(READY_TIMEOUT),
                                     resources={"metadata": {"path": str(self.script.parent)}}, config=sockets)
        self.proc = _NotebookProcess(self)
        self._open = {"cells"}
        self._thread = threading.Thread(target=self._execute, daemon=True)
        self._thread.start()

    def _execute(self):
        try:
            with self.client.setup_kernel():
                self.kernel_pid = self.client.km.provisioner.pid
                give_priority(self.kernel_pid)    # a session of its own, as a lesson's (jupyter_client)
                try:
                    for index, cell in enumerate(self.nb.cells):
                        self.client.execute_cell(cell, index)
                except Exception as e:      # CellExecutionError: a cell raised; DeadKernelError: killed
                    self.error = e
                if self.client.km.provisioner.has_process:
                    self.leftovers = bpf_objects_of(self.kernel_pid)[0]
        except Exception as e:              # the kernel did not start
            self.error = self.error or e

    def _pump(self, timeout):
        done = not self._thread.is_alive()
        if not done:
            self._thread.join(min(max(timeout, 0), 0.05))
        out, err = [], []
        for cell in self.nb.cells:
            for o in list(cell.get("outputs", [])):
                if o.get("output_type") == "stream":
                    (out if o.get("name") == "stdout" else err).append(o.get("text", ""))
                elif o.get("output_type") == "error":
                    err.append("\n".join(["%s: %s" % (o.get("ename"), o.get("evalue"))] +
                                         [re.sub(r"\x1b\[[0-9;]*m", "", t) for t in o.get("traceback", [])]) + "\n")
        for target, texts in (("lines", out), ("err_lines", err)):
            lines = "".join(texts).split("\n")
            if not done or lines[-1] == "":
                lines.pop()   # while cells run, the last piece may be half a line
            setattr(self, target, lines)
        if done:
            self._open = set()

    def wait_ready(self):
        super().wait_ready()
        self.prog_ids = bpf_objects_of(self.kernel_pid)[1]   # what the lesson loaded: gone at the end?
        return self

    def kill(self):
        if self._thread.is_alive() and self.kernel_pid:
            os.kill(self.kernel_pid, signal.SIGKILL)
        self._thread.join(STOP_TIMEOUT)

    def assert_clean_exit(self):
        """All cells ran without an error, no traceback, and the kernel, alive after the last cell, holds nothing
        of BPF: the lesson detached its probes itself (bpftool agrees: its programs are unloaded)."""
        super().assert_clean_exit()
        assert self.leftovers == [], "after the last cell the kernel still holds %s\n%s" % (self.leftovers, self.transcript())
        still, _ = programs_left(self.prog_ids)
        assert not still, "BPF programs %s are still loaded after the notebook ended" % sorted(still)

    def transcript(self):
        text = super().transcript()
        if self.error and not self.err_lines:
            text += "\n--- error ---\n%s" % self.error
        return text

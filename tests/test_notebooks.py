"""The notebooks in notebooks/ run from top to bottom without an error, so they never rot.

Each notebook is executed with nbclient in a fresh ``python3`` kernel of this interpreter (the venv's python, with
ipykernel), headless (``MPLBACKEND=Agg``), from the notebooks/ directory as Jupyter would, with a time limit per cell.
Executed outputs are never written back: the notebooks are kept without outputs, which a second test checks.
"""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in IPython tracebacks
STRIP_HINT = (".venv/bin/python -c \"import nbformat, sys; p = sys.argv[1]; nb = nbformat.read(p, 4); "
              "[c.update(outputs=[], execution_count=None) for c in nb.cells if c.cell_type == 'code']; "
              "nbformat.write(nb, p)\" notebooks/NAME.ipynb")


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch):
    """A ``python3`` kernel spec that runs this very interpreter, first on the Jupyter path (so neither a user's
    own ``python3`` kernel nor a bare ``python`` on PATH can stand in for the venv), headless matplotlib, and a
    throw-away IPython profile directory."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (msp-nlp)", "language": "python",
    }), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == sys.executable
    return "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, venv_kernel):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=venv_kernel, timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    try:
        client.execute()
    except CellExecutionError as e:  # the message holds the failing cell's source and traceback
        pytest.fail(f"{path.name} failed:\n{re.sub(ANSI, '', str(e))}", pytrace=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_saved_without_outputs(path):
    """Outputs (tables of note text, images) stay out of the repository: they bloat diffs and go stale."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them before committing: {STRIP_HINT}"

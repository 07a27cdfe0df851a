"""The notebook runs headless, top to bottom, so it cannot rot."""

import os
import time

import pytest

from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "cheatsheet.ipynb"


@pytest.mark.slow
def test_notebook_executes_within_a_minute(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)  # the kernel imports the toolkit
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    text = "\n".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert "0.495" in text  # the MLP of 7.1
    assert "test accuracy:" in text
    assert "negative ELBO per image" in text
    assert (tmp_path / "vae_samples.png").stat().st_size > 0
    assert seconds < 60, f"the notebook took {seconds:.0f} s"

"""notebooks/walkthrough.ipynb runs top to bottom without a cell error (nbclient)."""

from __future__ import annotations

import os

import pytest
from conftest import ROOT, SHARED

pytestmark = pytest.mark.slow  # a Jupyter kernel runs the whole walkthrough

NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"


def test_walkthrough_notebook_executes() -> None:
    if os.environ.get("MTPIPE_CI") != "1":
        pytest.importorskip("nbclient")
        pytest.importorskip("ipykernel")
    import nbformat
    from nbclient import NotebookClient

    assert SHARED.exists(), "the notebook scores data from ../shared"
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "37 units" in shown and "the official scores are reproduced" in shown
    pages = [o["data"]["text/html"] for o in outputs if o.output_type == "display_data" and "srcdoc" in o["data"].get("text/html", "")]
    assert len(pages) == 1 and "000_46fe319679e0c617.txt" in pages[0]

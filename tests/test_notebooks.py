"""Every notebook runs top to bottom without an error, and is stored without outputs.

Each notebook is its own test item, so ``pytest -n 2`` runs them in parallel.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb"))
TIMEOUT_S = 240


def test_the_notebooks_are_there():
    assert NOTEBOOKS == [
        "01_quickstart.ipynb",
        "02_drs_thresholds.ipynb",
        "03_dpm_day.ipynb",
        "04_rule_priorities.ipynb",
        "05_migration_cost.ipynb",
    ]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_without_outputs(name: str):
    """Outputs and execution counts stay out of the repository: diffs show only what people wrote."""
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], name
            assert cell.execution_count is None, name


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_error(name: str):
    """Run in notebooks/ (Jupyter's working directory) with the python3 kernel of this environment."""
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors

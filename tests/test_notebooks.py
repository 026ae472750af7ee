"""The walkthrough notebooks run top to bottom (they are committed without outputs; docs/notebooks/ holds them
executed, by notebooks/execute_into_docs.py, and must show the same code)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    book = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), "commit without outputs"
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_executed_copy_in_docs_has_the_same_code_and_its_outputs(path):
    copy = path.parents[1] / "docs" / "notebooks" / path.name
    assert copy.exists(), "run notebooks/execute_into_docs.py"
    source, executed = (nbformat.read(p, as_version=4) for p in (path, copy))
    code = lambda book: [c.source for c in book.cells if c.cell_type == "code"]  # noqa: E731
    assert code(source) == code(executed), "docs/notebooks is stale: run notebooks/execute_into_docs.py"
    assert all(c.get("outputs") for c in executed.cells if c.cell_type == "code")


def test_there_are_three_walkthroughs():
    assert [p.stem for p in NOTEBOOKS] == ["01_market_overview", "02_fit_and_forecast_2025", "03_backtest"]

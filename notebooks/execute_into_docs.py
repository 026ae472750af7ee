"""Execute every walkthrough and write it, outputs included, to docs/notebooks/ (the sources here stay without
outputs so their diffs stay readable). Run: .venv/bin/python notebooks/execute_into_docs.py"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "docs" / "notebooks"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted(HERE.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
        nbformat.write(book, OUT / path.name)
        print(f"wrote {OUT / path.name}")


if __name__ == "__main__":
    main()

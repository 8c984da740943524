"""A command's own section in a markdown report (docs/benchmarks.md): written in place of the
previous run's, everything else in the file kept."""

from __future__ import annotations

import re
from pathlib import Path


def section_write(*, path: Path, section: str) -> None:
    """Put ``section`` in ``path`` in place of an earlier one with the same heading (its first
    line), or at the end. The earlier one ends at the next ``## `` or ``### `` heading, so the
    hand-written subsections that follow a generated section (a baseline kept for comparison)
    survive its re-runs; a generated section therefore has no ``###`` headings of its own."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    heading = section.splitlines()[0]
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^##+ |\Z)", re.S | re.M)
    block = section.rstrip("\n") + "\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)

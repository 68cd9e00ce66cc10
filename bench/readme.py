"""bench/README.md: each benchmark owns one section between its markers and rewrites only that."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def write_section(start: str, end: str, section: str) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) in place of the old one, or
    append it when the README has none yet."""
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    if start in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)

"""Plain ANSI styling for the demo's terminal output, off for pipes, ``NO_COLOR`` and dumb terms.

No dependency: a handful of SGR codes, widths measured without them, and ASCII stand-ins for the
step marks when the output encoding cannot carry them (a Windows code page, ``LANG=C``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

WIDTH = 100  # everything the demo prints fits this many columns
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}
_STATE_COLOURS = {
    "completed": "green",
    "parked": "yellow",
    "running": "cyan",
    "compensating": "magenta",
    "compensated": "magenta",
    "cancelled": "dim",
}
# (unicode, ascii, colour) per step status; an undo that ran wins over the step's own status.
_MARKS = {
    "succeeded": ("✓", "+", "green"),
    "skipped": ("↷", ">", "dim"),
    "failed": ("✗", "x", "red"),
    "compensated": ("↺", "<", "magenta"),
    "pending": ("·", ".", "dim"),
    "running": ("…", "~", "yellow"),
}
_PROBE = "".join(m[0] for m in _MARKS.values()) + "—●→"


SPINNER = ("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏", "|/-\\")  # a live line's frames: braille, or ASCII


@dataclass(frozen=True, slots=True)
class Style:
    """How to decorate text: ``colour`` adds SGR codes, ``fancy`` allows non-ASCII marks."""

    colour: bool = False
    fancy: bool = True

    def paint(self, text: str, *styles: str) -> str:
        if not self.colour or not styles or not text:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def state(self, state: str | None, width: int = 0) -> str:
        """A workflow state, coloured; None is an instance that never started."""
        text = state or "not started"
        colour = _STATE_COLOURS.get(text, "red")
        return self.paint(text.ljust(width), colour, *(("bold",) if text == "parked" else ()))

    def mark(self, status: str, undo: str = "none") -> str:
        """One step as one character (see the legend)."""
        if undo in {"done", "running", "retrying"}:
            kind = "compensated" if undo == "done" else "running"
        elif undo == "failed":
            kind = "failed"
        elif status in {"running", "retrying"}:
            kind = "running"
        else:
            kind = status if status in _MARKS else "pending"
        fancy, plain, colour = _MARKS[kind]
        return self.paint(fancy if self.fancy else plain, colour)

    def progress(self, outcome: str, frame: int | None) -> str:
        """A live line's sign: ``ok``, ``failed``, or ``pending`` (a spinner frame on a live
        terminal, ``frame`` None otherwise)."""
        if outcome == "ok":
            return self.paint("✓" if self.fancy else "+", "green")
        if outcome == "failed":
            return self.paint("✗" if self.fancy else "x", "red")
        if frame is None:
            return self.paint("…" if self.fancy else "~", "yellow")
        frames = SPINNER[0 if self.fancy else 1]
        return self.paint(frames[frame % len(frames)], "cyan")

    def legend(self) -> str:
        """What each step mark means."""
        return "  ".join(
            f"{self.paint(fancy if self.fancy else plain, colour)} {kind}"
            for kind, (fancy, plain, colour) in _MARKS.items()
        )

    def cut(self, text: str, width: int) -> str:
        """:func:`cut` with this style's ellipsis."""
        return cut(text, width, "…" if self.fancy else "~")

    @property
    def dash(self) -> str:
        return "—" if self.fancy else "-"


def detect(stream: TextIO, env: Mapping[str, str] | None = None) -> Style:
    """Colour only on a terminal, and never with ``NO_COLOR`` (any value) or ``TERM=dumb``."""
    env = os.environ if env is None else env
    tty = _isatty(stream)
    colour = tty and "NO_COLOR" not in env and env.get("TERM") != "dumb"
    return Style(colour=colour, fancy=_can_encode(stream))


def live(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Whether lines may be redrawn in place (a terminal that understands cursor movement)."""
    env = os.environ if env is None else env
    return _isatty(stream) and env.get("TERM") != "dumb"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: treat as a pipe
        return False


def _can_encode(stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        _PROBE.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def visible(text: str) -> int:
    """The width of ``text`` on screen: its length without colour codes."""
    return len(_SGR.sub("", text))


def pad(text: str, width: int) -> str:
    """Left-align possibly coloured ``text`` in ``width`` columns."""
    return text + " " * max(0, width - visible(text))


def cut(text: str, width: int, ellipsis: str = "…") -> str:
    """Plain ``text`` on one line, at most ``width`` columns (an ellipsis marks the cut)."""
    text = " ".join(safe(text).split())
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(0, width - 1)] + ellipsis


def safe(text: str) -> str:
    """Vendors and senders choose ids and errors: never print their control characters."""
    return "".join(c if c.isprintable() else "\ufffd" for c in str(text))


def seconds(value: float | None) -> str:
    """A duration for people: 340ms, 1.24s, 2m05s."""
    if value is None:
        return "-"
    if value < 0:
        value = 0.0
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 60:
        return f"{value:.2f}s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes}m{rest:02d}s"


def objective(value: float | None) -> str:
    """An objective as a route file would write it: 30s, 5m, 2h (else like :func:`seconds`)."""
    if value is None:
        return "-"
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return seconds(value)

"""Engine progress on a terminal: the elapsed time ticks without engine events."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from cli.engine.progress import Progress


def test_elapsed_time_ticks_while_the_engine_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")  # tests/conftest.py sets "dumb", which rich never animates
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    with Progress(console, "up local"):
        time.sleep(2.3)  # no event arrives: a slow container start
    drawn = screen.getvalue()
    assert "up local: 0 done, 0 in progress, 0 failed" in drawn
    assert "0:00:01" in drawn and "0:00:02" in drawn


def test_without_a_terminal_nothing_is_redrawn() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False, width=100)
    with Progress(console, "up local"):
        time.sleep(0.2)
    assert screen.getvalue() == ""

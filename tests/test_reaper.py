"""The watcher that ends what a killed run left behind (pipeline/reaper.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.reaper import alive, descendants

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="the watcher reads /proc")

# A driver with a child from before the watcher and one started after it, both in
# sessions of their own (as Ray's agents are: a dead parent does not take them along).
DRIVER = textwrap.dedent(
    """
    import subprocess, sys, time
    from pipeline.reaper import Reaper

    old = subprocess.Popen(["sleep", "60"], start_new_session=True)
    reaper = Reaper()
    new = subprocess.Popen(["sleep", "60"], start_new_session=True)
    print(old.pid, new.pid, flush=True)
    if sys.argv[1] == "close":
        reaper.close()
        print("closed", flush=True)
    time.sleep(60)
    """
)


def _start(how: str) -> tuple[subprocess.Popen, int, int]:
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, how], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    old, new = map(int, driver.stdout.readline().split())
    return driver, old, new


def _process(pid: int) -> tuple[int, str]:
    return next(p for p in descendants(1) | descendants(os.getpid()) if p[0] == pid)


def _wait_gone(process: tuple[int, str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(process) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(process)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "close"])
def test_what_started_after_the_watcher_ends_with_the_driver_and_nothing_older_does(how: str) -> None:
    driver, old, new = _start(how)
    older, newer = _process(old), _process(new)
    try:
        time.sleep(0.7)  # the watcher looks twice a second
        if how == "kill":
            driver.send_signal(signal.SIGKILL)
        else:
            assert driver.stdout.readline().strip() == "closed"
        assert _wait_gone(newer, 10)
        assert alive(older)
    finally:
        for pid in (old, new, driver.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        driver.wait()

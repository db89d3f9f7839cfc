"""A watcher that ends the processes a run started when the run itself dies.

A local Ray instance is a tree of processes under the driver. Ray stops them on a
clean shutdown, and its servers watch the driver, but some agents outlive a driver
killed with SIGKILL. The watcher is a separate process in its own session: it
records, every half second, the processes that appeared under the driver since the
watcher started, and when the pipe the driver holds closes (the driver closed it or
died), it terminates every one still alive. Process start times tell a recorded
process from a later one that reuses its pid. Linux only (it reads /proc).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

PROC = Path("/proc")
# Seconds between looks at the process tree, and the grace between SIGTERM and SIGKILL.
POLL_S = 0.5
GRACE_S = 2.0

Process = tuple[int, str]  # pid and start time (clock ticks after boot, as /proc says)


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None when it is gone."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> set[Process]:
    """Every process below `pid`, with its start time."""
    children: dict[int, list[int]] = {}
    start: dict[int, str] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            start[int(entry.name)] = fields[19]
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add((child, start[child]))
            todo.append(child)
    return found


def alive(process: Process) -> bool:
    """Whether this very process (not a later one with its pid) still runs."""
    fields = _stat(process[0])
    return fields is not None and fields[19] == process[1] and fields[0] not in "ZX"


def _signal(processes: set[Process], signum: int) -> None:
    for process in processes:
        if alive(process):
            try:
                os.kill(process[0], signum)
            except OSError:
                pass


def watch(driver: int, pipe: int) -> None:
    """Record the processes new under `driver` until `pipe` reports end of file, then end them."""
    before = descendants(driver)
    seen: set[Process] = set()
    me, done = os.getpid(), False
    while True:
        # After the end of file too: a driver that closed the pipe is still there to look under.
        seen |= {p for p in descendants(driver) - before if p[0] != me}
        if done:
            break
        readable, _, _ = select.select([pipe], [], [], POLL_S)
        done = bool(readable) and not os.read(pipe, 4096)
    # A process that started under one of ours since the last look was reparented
    # when its parent died; the living ones are looked at once more.
    for process in list(seen):
        if alive(process):
            seen |= descendants(process[0])
    _signal(seen, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while any(map(alive, seen)) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal(seen, signal.SIGKILL)


class Reaper:
    """The watcher of this process's new children; `close` after they were stopped."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        if not PROC.is_dir():
            return
        read, self.pipe = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.reaper", str(os.getpid())],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C at the terminal must not stop it first
                env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH")]))},
            )
        except OSError:
            os.close(self.pipe)
        finally:
            os.close(read)
        self.ready()

    def ready(self) -> None:
        """Wait until the watcher has taken its first look, so what starts next is recorded as new."""
        if self.process is not None:
            os.write(self.pipe, b"\n")
            # The watcher reads the line only after its first snapshot: the pipe is
            # empty again once it has. Polling its fill level needs no reply channel.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None and _unread(self.pipe):
                time.sleep(0.01)

    def close(self) -> None:
        """End whatever the watched processes left behind, and wait for the watcher."""
        if self.process is not None:
            os.close(self.pipe)
            try:
                self.process.wait(timeout=GRACE_S + 3)
            except subprocess.TimeoutExpired:
                pass
            self.process = None


def _unread(fd: int) -> int:
    """Bytes written to a pipe and not read yet."""
    import fcntl
    import termios

    size = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, size)
    return int.from_bytes(size, sys.byteorder)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(int(sys.argv[1]), sys.stdin.fileno())

"""The one place that spawns processes."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import VarwheelError


@dataclass(frozen=True)
class ProcResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for error reports."""
        return (self.stdout + self.stderr).strip()


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def job_limit(environ: Mapping[str, str]) -> int | None:
    """The parallel-job limit a build environment sets, as build tools read it: ``MAX_JOBS``
    (PyTorch's builds, fromager), ``CMAKE_BUILD_PARALLEL_LEVEL``, then ``-j N``/``--jobs=N``
    in ``MAKEFLAGS`` (a jobserver is not joined: its ``-j`` count is taken as the limit)."""
    import re

    for name in ("MAX_JOBS", "CMAKE_BUILD_PARALLEL_LEVEL"):
        value = environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    found = re.search(r"(?:^|\s)(?:-j\s*|--jobs[= ])(\d+)", " " + environ.get("MAKEFLAGS", ""))
    if found and int(found.group(1)) > 0:
        return int(found.group(1))
    return None


def command_line(args: Sequence[str]) -> str:
    import shlex

    return shlex.join([str(a) for a in args])


#: Captured output kept per stream; the rest is read and dropped, so a child that writes
#: without end neither blocks on a full pipe nor fills our memory.
MAX_CAPTURE = 4 << 20
#: After the process itself has exited, how long its pipes may stay open (held by a
#: grandchild it left behind) before the whole process group is killed.
EXIT_GRACE = 2.0


_live: set[Any] = set()  # the Popen of every child still running (any thread)
_live_lock = threading.Lock()
_stopping = False  # set by kill_all: a child spawned from now on is killed at once


def kill_all() -> None:
    """Kill the process group of every child still running, and of any spawned until
    :func:`allow_spawning`: on SIGTERM or Ctrl-C of the build, no compiler, linker or plugin
    may outlive it (they run in sessions of their own, so the terminal's signals do not reach
    them), not even one another thread was starting at that moment."""
    global _stopping
    with _live_lock:
        _stopping = True
        procs = list(_live)
    for proc in procs:
        _kill_group(proc)


def allow_spawning() -> None:
    """End the effect of :func:`kill_all` (a caller that keeps running after an interruption)."""
    global _stopping
    with _live_lock:
        _stopping = False


def exit_description(returncode: int) -> str:
    """``exit code 3``, or ``killed by SIGKILL`` for a negative (signal) return code."""
    if returncode < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _kill_group(proc: Any) -> None:
    """SIGKILL the child's whole process group (it leads its own session)."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):
            proc.kill()


class _Capture:
    """Bounded capture of one stream: the first MAX_CAPTURE bytes, and how many were dropped."""

    __slots__ = ("chunks", "dropped", "kept")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        room = MAX_CAPTURE - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        out = b"".join(self.chunks).decode("utf-8", "replace")
        if self.dropped:
            out += f"\n[... {self.dropped} more bytes of output dropped]\n"
        return out


def _pump(proc: Any, stdin: bytes | None, timeout: float | None) -> tuple[str, str, bool]:
    """Feed stdin, read both pipes (bounded) until EOF; returns (stdout, stderr, timed_out).

    The deadline covers the whole run. Once the process itself has exited, its pipes get
    EXIT_GRACE seconds to reach EOF; after that (a grandchild holds them) or at the deadline
    the whole process group is killed and reading stops.
    """
    import selectors
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    captures = {proc.stdout.fileno(): _Capture(), proc.stderr.fileno(): _Capture()}
    order = list(captures)
    sel = selectors.DefaultSelector()
    for fd in captures:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    pending = memoryview(stdin) if stdin else None
    if proc.stdin is not None:
        if pending is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
    exited_at: float | None = None
    timed_out = False
    open_reads = len(captures)
    try:
        while open_reads:
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            limits = [0.05 if exited_at is None else exited_at + EXIT_GRACE - now]
            if deadline is not None:
                limits.append(deadline - now)
            wait = min(limits)
            if wait <= 0:
                if deadline is not None and now >= deadline:
                    timed_out = True
                break
            for key, _ in sel.select(min(wait, 0.05) if exited_at is None else wait):
                fd = key.fd
                if fd in captures:
                    try:
                        data = os.read(fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    if data:
                        captures[fd].feed(data)
                    else:
                        sel.unregister(fd)
                        open_reads -= 1
                else:
                    assert pending is not None
                    try:
                        n = os.write(fd, pending[: 1 << 16])
                    except BrokenPipeError:
                        n = len(pending)
                    except BlockingIOError:
                        n = 0
                    pending = pending[n:]
                    if not pending:
                        sel.unregister(fd)
                        proc.stdin.close()
    finally:
        sel.close()
    if open_reads or timed_out:
        _kill_group(proc)
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    return captures[order[0]].text(), captures[order[1]].text(), timed_out


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    what: str = "",
    stdin: str | None = None,
    on_start: Callable[[], None] | None = None,
) -> ProcResult:
    """Run a command, capture its output as text, and turn failures into VarwheelError.

    ``what`` names the action in error messages ("compile src/x.c"); the command line and
    the program's own output are attached to the error. ``on_start`` is called once the
    process exists (not when the command is about to be spawned), before waiting for it.

    Every child runs in a process group (session) of its own with stdin from /dev/null
    (unless ``stdin`` text is given); at most MAX_CAPTURE bytes of each stream are kept; on a
    timeout, an interruption, or pipes held open after the child exited, the whole group is
    killed, so nothing it started outlives the call.
    """
    import subprocess  # here: importing this module (for available_cores) should not cost it

    argv = tuple(str(a) for a in args)
    label = what or Path(argv[0]).name
    posix = os.name == "posix"
    try:
        proc = subprocess.Popen(
            argv,
            cwd=None if cwd is None else str(cwd),
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=posix,
        )
    except FileNotFoundError:
        raise VarwheelError(
            f"program not found: {argv[0]}",
            subject=label,
            hint="is it installed and on PATH?",
        ) from None
    except PermissionError as exc:
        raise VarwheelError(f"cannot execute {argv[0]}: {exc.strerror}", subject=label) from None
    data = None if stdin is None else stdin.encode("utf-8")
    with _live_lock:
        _live.add(proc)
        stopping = _stopping
    if stopping:
        _kill_group(proc)  # started while the build was being stopped: it must not run on
    try:
        return _finish(proc, argv, label, data, timeout=timeout, check=check, on_start=on_start)
    finally:
        with _live_lock:
            _live.discard(proc)


def _finish(
    proc: Any,
    argv: tuple[str, ...],
    label: str,
    data: bytes | None,
    *,
    timeout: float | None,
    check: bool,
    on_start: Callable[[], None] | None,
) -> ProcResult:
    import subprocess

    posix = os.name == "posix"
    with proc:
        try:
            if on_start is not None:
                on_start()
            if posix:
                stdout, stderr, timed_out = _pump(proc, data, timeout)
            else:  # no process groups or selectable pipes: the standard library's way
                try:
                    raw_out, raw_err = proc.communicate(data, timeout)
                    timed_out = False
                except subprocess.TimeoutExpired:
                    proc.kill()
                    raw_out, raw_err = proc.communicate()
                    timed_out = True
                stdout = raw_out.decode("utf-8", "replace")
                stderr = raw_err.decode("utf-8", "replace")
            if timed_out:
                proc.wait()
                raise VarwheelError(
                    f"timed out after {timeout:g} s",
                    subject=label,
                    extra="command: " + command_line(argv),
                )
            proc.wait()
        except BaseException:
            # interrupted (KeyboardInterrupt, SIGTERM turned into an exception) or timed out:
            # leave no compiler or plugin running behind us
            if posix:
                _kill_group(proc)
            else:
                proc.kill()
            proc.wait()
            raise
    result = ProcResult(argv, proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise VarwheelError(
            f"failed with {exit_description(proc.returncode)}",
            subject=label,
            extra="command: " + command_line(argv) + ("\n" + result.output if result.output else ""),
        )
    return result

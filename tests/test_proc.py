"""The one process spawner: output capture, stdin, timeouts, errors, the start callback."""

from __future__ import annotations

import os
import time

import pytest
from _support import process_gone

from varwheel._proc import run
from varwheel.errors import VarwheelError


def test_captures_output_and_feeds_stdin() -> None:
    res = run(["sh", "-c", "read x; echo out:$x; echo err >&2"], stdin="hello\n")
    assert res.returncode == 0
    assert res.stdout == "out:hello\n"
    assert res.stderr == "err\n"


def test_failure_names_the_action_and_shows_the_output() -> None:
    with pytest.raises(VarwheelError) as info:
        run(["sh", "-c", "echo broken >&2; exit 3"], what="compile src/x.c")
    text = info.value.render()
    assert "compile src/x.c" in text and "exit code 3" in text and "broken" in text
    assert run(["sh", "-c", "exit 3"], check=False).returncode == 3


def test_missing_program() -> None:
    with pytest.raises(VarwheelError, match="program not found: /nonexistent/cc"):
        run(["/nonexistent/cc", "--version"])


def test_timeout_kills_the_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pidfile = tmp_path / "pid"
    start = time.monotonic()
    with pytest.raises(VarwheelError, match="timed out after 0.3 s"):
        run(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"], timeout=0.3)
    assert time.monotonic() - start < 10
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped


def test_on_start_runs_once_while_the_process_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The callback comes after the spawn (the process exists), before the wait."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    calls: list[str] = []

    def started() -> None:
        # The child opens the fifo to read it: a writer only gets in once a reader is there,
        # which cannot happen if the child is only spawned after this returns.
        deadline = time.monotonic() + 10
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: no reader yet
                assert time.monotonic() < deadline, "the process is not running"
                time.sleep(0.01)
        os.write(fd, b"go\n")
        os.close(fd)
        calls.append("started")

    res = run(["sh", "-c", f"read x < {fifo}; echo got:$x"], on_start=started)
    assert calls == ["started"]
    assert res.stdout == "got:go\n"
    with pytest.raises(VarwheelError):
        run(["/nonexistent/cc"], on_start=lambda: calls.append("again"))
    assert calls == ["started"], "called for a process that never ran"


def test_a_grandchild_holding_the_pipes_does_not_block(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The child exits at once but leaves a grandchild with its stdout: killed after the grace."""
    pidfile = tmp_path / "pid"
    start = time.monotonic()
    res = run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; echo parent done"], timeout=30)
    assert time.monotonic() - start < 10
    assert res.stdout == "parent done\n"
    assert process_gone(int(pidfile.read_text())), "the grandchild outlived the call"


def test_timeout_kills_the_whole_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pidfile = tmp_path / "pid"
    start = time.monotonic()
    with pytest.raises(VarwheelError, match="timed out after 0.5 s"):
        run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], timeout=0.5)
    assert time.monotonic() - start < 10
    assert process_gone(int(pidfile.read_text()))


def test_stdin_is_dev_null() -> None:
    start = time.monotonic()
    res = run(["sh", "-c", "cat; echo eof"], timeout=20)
    assert res.stdout == "eof\n" and time.monotonic() - start < 10


def test_output_is_bounded() -> None:
    from varwheel import _proc

    res = run(["sh", "-c", f"head -c {_proc.MAX_CAPTURE * 4} /dev/zero"], timeout=60)
    assert len(res.stdout) < _proc.MAX_CAPTURE + 200
    assert f"{_proc.MAX_CAPTURE * 3} more bytes of output dropped" in res.stdout


def test_a_signal_is_reported_by_name() -> None:
    with pytest.raises(VarwheelError, match="killed by SIGKILL"):
        run(["sh", "-c", "kill -9 $$"], what="compile src/x.c")


def test_a_child_spawned_while_stopping_is_killed_at_once() -> None:
    """kill_all() stops what runs and what another thread starts right after, until allowed."""
    from varwheel import _proc

    _proc.kill_all()
    try:
        start = time.monotonic()
        res = run(["sleep", "30"], check=False)
        assert time.monotonic() - start < 10 and res.returncode < 0
    finally:
        _proc.allow_spawning()
    assert run(["true"]).returncode == 0

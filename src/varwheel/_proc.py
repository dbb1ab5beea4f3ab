"""The one place that spawns processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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


def command_line(args: Sequence[str]) -> str:
    import shlex

    return shlex.join([str(a) for a in args])


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    stage: str = "",
    what: str = "",
    stdin: str | None = None,
    on_start: Callable[[], None] | None = None,
) -> ProcResult:
    """Run a command, capture its output as text, and turn failures into VarwheelError.

    ``what`` names the action in error messages ("compile src/x.c"); the command line and
    the program's own output are attached to the error. ``on_start`` is called once the
    process exists (not when the command is about to be spawned), before waiting for it.
    """
    import subprocess  # here: importing this module (for available_cores) should not cost it

    argv = tuple(str(a) for a in args)
    label = what or Path(argv[0]).name
    try:
        proc = subprocess.Popen(
            argv,
            cwd=None if cwd is None else str(cwd),
            env=None if env is None else dict(env),
            stdin=None if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
    except FileNotFoundError:
        raise VarwheelError(
            f"program not found: {argv[0]}",
            stage=stage,
            subject=label,
            hint="is it installed and on PATH?",
        ) from None
    except PermissionError as exc:
        raise VarwheelError(
            f"cannot execute {argv[0]}: {exc.strerror}", stage=stage, subject=label
        ) from None
    with proc:
        try:
            if on_start is not None:
                on_start()
            stdout, stderr = proc.communicate(stdin, timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise VarwheelError(
                f"timed out after {timeout:g} s",
                stage=stage,
                subject=label,
                extra="command: " + command_line(argv),
            ) from None
        except BaseException:
            proc.kill()  # interrupted (KeyboardInterrupt): leave no compiler running behind us
            raise
    result = ProcResult(argv, proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise VarwheelError(
            f"failed with exit code {proc.returncode}",
            stage=stage,
            subject=label,
            extra="command: " + command_line(argv) + ("\n" + result.output if result.output else ""),
        )
    return result

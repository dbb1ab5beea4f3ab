"""The one error type every stage raises.

Each error knows what it is about (a file, a dotted key, a config setting, a property) and
what went wrong. The hook boundary renders it as one line:
``varwheel: error: <subject>: <detail> (<hint>)``, followed by ``extra`` (for example a
compiler's own output) when present.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


class VarwheelError(Exception):
    """A user-facing failure: bad input, a failed compile, an unusable wheel."""

    def __init__(
        self,
        detail: str,
        *,
        subject: str = "",
        hint: str = "",
        extra: str = "",
    ) -> None:
        self.detail = detail
        self.subject = subject
        self.hint = hint
        self.extra = extra
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``subject: detail (hint)`` on one line: control characters that came in with
        untrusted names (a newline in a filename, an escape sequence) are shown escaped."""
        text = f"{self.subject}: {self.detail}" if self.subject else self.detail
        if self.hint:
            text += f" ({self.hint})"
        return _CONTROL.sub(_escape, text)

    def render(self) -> str:
        """The message printed by hooks and the CLI."""
        out = f"varwheel: error: {self.one_line()}"
        if self.extra:
            out += "\n" + self.extra.rstrip("\n")
        return out


def from_os_error(exc: OSError) -> VarwheelError:
    """An OSError that escaped a stage, as one line naming the path and what the OS said
    (ENOSPC, EACCES, EROFS, ENAMETOOLONG, ELOOP, a file that vanished mid-build, ...)."""
    import errno

    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    what = exc.strerror or type(exc).__name__
    hints = {
        errno.ENOSPC: "free some disk space, or point TMPDIR / -C build-dir somewhere with room",
        errno.EROFS: "the directory is on a read-only file system; build elsewhere with -C build-dir",
        errno.EACCES: "check the permissions of that path",
        errno.ENAMETOOLONG: "the path is longer than the file system allows",
        errno.ELOOP: "a symlink points (through others) back to itself",
    }
    return VarwheelError(what, subject=" -> ".join(names) or "operating system", hint=hints.get(exc.errno or 0, ""))


class ConfigError(VarwheelError):
    """pyproject.toml or config_settings is wrong."""

    def __init__(self, detail: str, *, subject: str = "", hint: str = "") -> None:
        super().__init__(detail, subject=subject, hint=hint)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``did you mean 'x'?`` hint, or an empty string when nothing is close."""
    import difflib  # only on the error path

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""

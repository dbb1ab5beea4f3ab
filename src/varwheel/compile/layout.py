"""Path-free compile commands: where the compiler runs and how it sees every path.

Every compiler and linker command runs in the build directory, and names nothing by an
absolute path of the project, the build directory or the build environment:

- the project is ``project/`` (a symlink in the build directory), or, when the build
  directory lies inside the project (an editable build, ``-C build-dir=build``), the
  relative path up to it (``../../``): ``-I../../include -c ../../src/x.c``;
- every other absolute include directory (``include-dirs-from`` in the temporary build
  environment, the interpreter's headers, pkg-config's) is ``inc/<n>`` (a symlink), and a
  directory of generated headers (a variant's ``varwheel_variant.h``) ``gen/<n>``;
- outputs are ``obj/…`` and ``lib/…``;
- ``-ffile-prefix-map=project/=`` maps the project's files back to project-relative names,
  and the compiler's idea of the working directory (``DW_AT_comp_dir``, the ``-g``
  preprocessor's working-directory line) is ``/proc/self/cwd`` (``PWD`` in the compiler's
  environment: GCC and clang take it when it names the working directory), mapped to ``.``.

So the command lines are the same for every build of the same sources: from another
checkout, a new isolated environment, a new temp dir, another machine. That is what lets
varwheel's shared cache, ccache and sccache (whose keys hash the arguments) hit across them,
and the objects are the same bytes as before (the prefix maps spell every file as it was).

Inside the engine, commands are planned with placeholders (``@ROOT@/``, ``@INC<n>@``,
``@GEN<n>@``) that enter cache keys as they are; :meth:`Layout.real` spells them for this
build, and :meth:`Layout.stored` turns the paths a depfile lists back into the placeholder
form the dependency records keep.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from pathlib import Path

ROOT = "@ROOT@/"
BUILD = "@BUILD@/"
PROJECT_LINK = "project"
#: Directories the compiler searches by default: passed as they are (through a symlink GCC
#: would no longer know them as system directories).
SYSTEM_INCLUDE_DIRS = frozenset({"/usr/include", "/usr/local/include"})
#: Options whose relative operand is a path (resolved from the project directory when it
#: exists there, as a setup.py run from the project directory would resolve it).
PATH_OPTIONS = ("-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros", "-L")
_PATH_OPTIONS_EQ = ("-Wl,--version-script=", "-Wl,-T,", "-Wl,--dynamic-list=")
_PLACEHOLDER = re.compile(r"@(ROOT@/|BUILD@/|CWD@|INC\d+@|GEN\d+@)")
_CWD = "/proc/self/cwd"
MAX_VIEWS = 8


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Layout:
    """The spelling of paths in one build's commands (see the module docstring)."""

    def __init__(self, root: Path, build_dir: Path, generated: tuple[str, ...] = ()) -> None:
        self.root = os.path.normpath(str(root))
        self.build_dir = os.path.normpath(str(build_dir))
        self.linked_root = not _inside(self.build_dir, self.root)
        self.generated = tuple(os.path.normpath(d) for d in generated)
        self.external: list[str] = []  # absolute include dirs, in the order first seen: inc/<n>
        # the compiler's idea of its working directory: /proc/self/cwd where there is one
        self._proc_cwd = sys.platform.startswith("linux") and os.path.isdir(_CWD)
        self._cwd = ""
        self._env: dict[str, str] | None = None
        self.root_prefix = self.build_prefix = ""  # how commands spell @ROOT@/ and @BUILD@/

    @property
    def env(self) -> dict[str, str]:
        """The commands' environment: this process's, with ``PWD`` = :attr:`cwd_name`."""
        if self._env is None:
            self._env = {**os.environ, "PWD": self.cwd_name}
        return self._env

    @property
    def cwd(self) -> str:
        """The directory the commands run in: ``<build>/views/<digest>``, one per set of
        symlink targets, so concurrent builds sharing a build directory (a release's
        variants, with their own generated headers) never repoint each other's links.
        Fixed the first time it is asked for, once planning has registered every include
        directory."""
        if not self._cwd:
            self._settle()
        return self._cwd

    def _settle(self) -> None:
        """Fix :attr:`cwd` and work out, once, the spellings relative to it."""
        from .cache import digest

        name = digest("view", self.root, *self.external, "\0", *self.generated)[:16]
        self._cwd = os.path.join(self.build_dir, "views", name)
        up = os.path.relpath(self.root, self._cwd).replace(os.sep, "/") + "/"
        self.root_prefix = PROJECT_LINK + "/" if self.linked_root else up
        self.build_prefix = os.path.relpath(self.build_dir, self._cwd).replace(os.sep, "/") + "/"

    @property
    def cwd_name(self) -> str:
        """What the compiler records as its working directory (``PWD``)."""
        return _CWD if self._proc_cwd else self.cwd

    # -- planning (placeholder form) -----------------------------------------------------

    def include_dir(self, d: str) -> str:
        """The placeholder form of an include (or library) directory."""
        if not os.path.isabs(d):
            return ROOT + os.path.normpath(d).replace(os.sep, "/")
        full = os.path.normpath(d)
        if full in SYSTEM_INCLUDE_DIRS:
            return full
        if full in self.generated:
            return f"@GEN{self.generated.index(full)}@"
        if _inside(full, self.root) and not _inside(full, self.build_dir):
            rel = os.path.relpath(full, self.root)
            return ROOT + ("" if rel == os.curdir else rel.replace(os.sep, "/"))
        if full not in self.external:
            assert not self._cwd, "an include directory registered after the commands' directory was fixed"
            self.external.append(full)
        return f"@INC{self.external.index(full)}@"

    def library_dir(self, d: str) -> str:
        """A ``-L`` directory: a project one relative to it, any other as it is (links are
        not cached across builds, so their absolute paths cost nothing)."""
        if os.path.isabs(d):
            return d
        return ROOT + os.path.normpath(d).replace(os.sep, "/")

    def project_file(self, rel: str) -> str:
        return ROOT + rel

    def source(self, path: str) -> str:
        """A source as commands name it: a project-relative one under ``@ROOT@/``, a file the
        build generated (Cython's C, in the build directory) under ``@BUILD@/``."""
        if os.path.isabs(path):
            full = os.path.normpath(path)
            if _inside(full, self.build_dir):
                return BUILD + os.path.relpath(full, self.build_dir).replace(os.sep, "/")
            return full
        return ROOT + path

    def prefix_maps(self) -> tuple[str, ...]:
        """Placeholder-form options mapping the spelled paths back to reproducible names."""
        return (f"-ffile-prefix-map={ROOT}=", "-fdebug-prefix-map=@CWD@=.")

    def user_args(self, args: tuple[str, ...]) -> tuple[str, ...]:
        """``extra-compile-args`` / ``extra-link-args`` with relative path operands that exist
        in the project resolved from it (they were written for a compiler run there)."""
        out: list[str] = []
        pending = False
        for a in args:
            if pending:
                out.append(self._operand(a))
                pending = False
                continue
            if a in PATH_OPTIONS:
                out.append(a)
                pending = True
                continue
            for opt in (*PATH_OPTIONS, *_PATH_OPTIONS_EQ):
                if a.startswith(opt) and len(a) > len(opt) and not a.startswith("-include-"):
                    out.append(opt + self._operand(a[len(opt) :]))
                    break
            else:
                out.append(a)
        return tuple(out)

    def _operand(self, value: str) -> str:
        if os.path.isabs(value) or not os.path.exists(os.path.join(self.root, value)):
            return value
        return ROOT + os.path.normpath(value).replace(os.sep, "/")

    # -- running --------------------------------------------------------------------------

    def real(self, arg: str) -> str:
        """``arg`` with its placeholders spelled for this build (which fixes :attr:`cwd`)."""
        if "@" not in arg:
            return arg
        if not self._cwd:
            self._settle()

        def sub(m: re.Match[str]) -> str:
            tok = m.group(1)
            if tok == "ROOT@/":
                return self.root_prefix
            if tok == "CWD@":
                return self.cwd_name
            if tok == "BUILD@/":
                return self.build_prefix
            return ("inc/" if tok.startswith("INC") else "gen/") + tok[3:-1]

        return _PLACEHOLDER.sub(sub, arg)

    def realise(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.real(a) for a in argv)

    def relative(self, path: str) -> str:
        """A path inside the build directory as the commands spell it."""
        return os.path.relpath(path, self.cwd)

    def set_up(self) -> None:
        """Create (or point again) the build directory's ``project``, ``inc/<n>`` and
        ``gen/<n>`` symlinks; each is replaced atomically, so a concurrent build sharing the
        build directory sees either the old or the new target."""
        links: list[tuple[str, str]] = []
        if self.linked_root:
            links.append((PROJECT_LINK, self.root))
        links += [(f"inc/{n}", d) for n, d in enumerate(self.external)]
        links += [(f"gen/{n}", d) for n, d in enumerate(self.generated)]
        os.makedirs(self.cwd, exist_ok=True)
        for name, target in links:
            path = os.path.join(self.cwd, name)
            with contextlib.suppress(OSError):
                if os.readlink(path) == target:
                    continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(target, tmp)
            os.replace(tmp, path)
        os.utime(self.cwd)
        self._prune_views()

    def _prune_views(self, keep: int = MAX_VIEWS) -> None:
        """Keep the ``keep`` most recently used view directories: an editable build dir
        reinstalled under build isolation gets a new one per build environment."""
        import shutil

        views = os.path.dirname(self.cwd)
        try:
            with os.scandir(views) as it:
                found = [
                    (e.stat(follow_symlinks=False).st_mtime, e.path) for e in it if e.is_dir(follow_symlinks=False)
                ]
        except OSError:
            return
        for _, path in sorted(found, reverse=True)[keep:]:
            if path != self.cwd:
                shutil.rmtree(path, ignore_errors=True)

    # -- dependency records ---------------------------------------------------------------

    def absolute_of_spelled(self, p: str) -> str:
        """The absolute path of a file as a command (or its depfile) spells it."""
        if os.path.isabs(p):
            return os.path.normpath(p)
        if self.linked_root and (p == PROJECT_LINK or p.startswith(PROJECT_LINK + "/")):
            return os.path.normpath(os.path.join(self.root, p[len(PROJECT_LINK) + 1 :]))
        for kind, dirs in (("inc/", self.external), ("gen/", self.generated)):
            if p.startswith(kind):
                num, _, rest = p[len(kind) :].partition("/")
                if num.isdigit() and int(num) < len(dirs):
                    return os.path.normpath(os.path.join(dirs[int(num)], rest))
        return os.path.normpath(os.path.join(self.cwd, p))

    def stored(self, p: str) -> str:
        """A dependency as the records keep it: project-relative, ``@INC<n>@/…``,
        ``@GEN<n>@/…``, ``@BUILD@/…``, else absolute."""
        full = self.absolute_of_spelled(p)
        best = ("", -1)
        for n, d in enumerate(self.generated):
            if _inside(full, d) and len(d) > best[1]:
                best = (f"@GEN{n}@", len(d))
        for n, d in enumerate(self.external):
            if _inside(full, d) and len(d) > best[1]:
                best = (f"@INC{n}@", len(d))
        if _inside(full, self.build_dir) and len(self.build_dir) > best[1]:
            best = ("@BUILD@", len(self.build_dir))
        if _inside(full, self.root) and len(self.root) > best[1]:
            rel = os.path.relpath(full, self.root)
            return rel.replace(os.sep, "/")
        if best[1] < 0:
            return full
        mark, size = best
        return mark + "/" + full[size + 1 :].replace(os.sep, "/")

    def absolute(self, stored: str) -> str:
        if stored.startswith("@"):
            mark, _, rel = stored.partition("/")
            if mark == "@BUILD@":
                return os.path.join(self.build_dir, rel)
            kind, num = mark[1:4], mark[4:-1]
            dirs = self.external if kind == "INC" else self.generated
            if num.isdigit() and int(num) < len(dirs):
                return os.path.join(dirs[int(num)], rel)
            return os.path.join(os.devnull, rel)  # a directory this build does not have
        return stored if os.path.isabs(stored) else os.path.join(self.root, stored)

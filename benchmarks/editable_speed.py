"""Editable-install benchmark: reinstalls through pip, the import-time check, rebuild on import.

    python benchmarks/editable_speed.py [--repeat N] [--quick] [--no-install]

Two generated projects, each a package ``edbench_<kind>`` with one extension ``_core``: ``c``
(one small C file) and ``pybind11`` (one C++ file using pybind11, ``include-dirs-from``).
They are installed editable into ``benchmarks/_work/editable/venv`` (created on the first run,
with pybind11 and varwheel's dependencies from PyPI; varwheel itself from this checkout on
every run), and measured, each number the median of ``--repeat`` fresh processes:

1. ``pip install --no-build-isolation -e`` with nothing changed (pybind11 and C), and the same
   with build isolation (the requirements from a local wheelhouse, ``PIP_NO_INDEX``);
2. the import-time check when nothing changed: the finder's ``find_spec`` for the extension
   with its stat check against the same call with the check switched off, in one process
   (microseconds per call, and the ratio), and a fresh ``python -c "import edbench_c._core"``;
3. a one-file change rebuilt on import (``editable.rebuild``): a fresh interpreter that imports
   the extension after its source changed, against ``pip install --no-build-isolation -e``
   after the same kind of change.

Prints the load averages and whether ccache/sccache are on PATH first (every build runs with
``CCACHE_DISABLE=1``), then the numbers, the ratios and the targets with PASS/FAIL (informative:
the exit status is 0 unless a step failed):

- pybind11 editable reinstall with no change, end to end through pip (no isolation): <= 2 s;
- a one-file change rebuilt on import, small C project: <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Callable, Dict, List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_speed import core_count, cpu_snapshot, report_other_load

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = REPO / "benchmarks" / "_work" / "editable"
#: besides varwheel (installed from this checkout with --no-deps)
PACKAGES = ("packaging>=24.2", "pyproject-metadata>=0.9", "pyelftools>=0.31", "tomli>=1.1", "pybind11>=2.12")

TARGET_PYBIND11_NOOP_PIP = 2.0  # seconds, pip install --no-build-isolation -e, nothing changed
TARGET_REBUILD_ON_IMPORT = 1.0  # seconds, a one-file change of the C project, rebuilt on import

C_SOURCE = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define EDBENCH_VALUE {value}

static PyObject *value(PyObject *self, PyObject *noargs) {{ return PyLong_FromLong(EDBENCH_VALUE); }}

static PyMethodDef methods[] = {{{{"value", value, METH_NOARGS, NULL}}, {{NULL, NULL, 0, NULL}}}};

static struct PyModuleDef moddef = {{PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods}};

PyMODINIT_FUNC PyInit__core(void) {{ return PyModule_Create(&moddef); }}
"""
CXX_SOURCE = """\
#include <pybind11/pybind11.h>

#define EDBENCH_VALUE {value}

PYBIND11_MODULE(_core, m) {{
    m.def("value", []() {{ return EDBENCH_VALUE; }});
}}
"""
PYPROJECT = """\
[build-system]
requires = {requires}
build-backend = "varwheel.build"

[project]
name = "edbench-{kind}"
version = "0.1.0"

[[tool.varwheel.ext-modules]]
name = "edbench_{kind}._core"
sources = ["src/edbench_{kind}/{source}"]
{extra}
"""


class StepFailed(Exception):
    pass


def run(cmd: Sequence[str], env: Dict[str, str], cwd: Path | None = None) -> float:
    """Run ``cmd``; its wall time. No timeout: CPython's Popen.wait polls with sleeps then."""
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise StepFailed(f"{' '.join(cmd[:6])} ... exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return elapsed


def output(cmd: Sequence[str], env: Dict[str, str], cwd: Path | None = None) -> str:
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StepFailed(f"{' '.join(cmd[:6])} ... exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc.stdout + proc.stderr


def make_project(root: Path, kind: str, value: int) -> Path:
    if root.exists():
        shutil.rmtree(root)
    pkg = root / "src" / f"edbench_{kind}"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    if kind == "c":
        (pkg / "_core.c").write_text(C_SOURCE.format(value=value))
        text = PYPROJECT.format(requires='["varwheel"]', kind=kind, source="_core.c", extra="")
    else:
        (pkg / "_core.cpp").write_text(CXX_SOURCE.format(value=value))
        extra = 'include-dirs-from = ["pybind11"]\nextra-compile-args = ["-std=c++17"]\n'
        text = PYPROJECT.format(requires='["varwheel", "pybind11>=2.12"]', kind=kind, source="_core.cpp", extra=extra)
    (root / "pyproject.toml").write_text(text)
    return root


def set_value(root: Path, kind: str, value: int) -> None:
    if kind == "c":
        (root / "src" / "edbench_c" / "_core.c").write_text(C_SOURCE.format(value=value))
    else:
        (root / "src" / "edbench_pybind11" / "_core.cpp").write_text(CXX_SOURCE.format(value=value))


def prepare(work: Path, install: bool) -> tuple[Path, Path, Dict[str, str]]:
    """The venv (varwheel from this checkout in it) and the wheelhouse of isolated builds."""
    env = dict(os.environ, CCACHE_DISABLE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    env.pop("VARWHEEL_EDITABLE_VERBOSE", None)
    venv_dir, house = work / "venv", work / "wheelhouse"
    py = venv_dir / "bin" / "python"
    if not py.exists():
        print(f"creating {venv_dir} ...", flush=True)
        venv.EnvBuilder(with_pip=True, symlinks=True).create(venv_dir)
        install = True
    if install:
        run([str(py), "-m", "pip", "install", "-q", *PACKAGES], env)
        house.mkdir(parents=True, exist_ok=True)
        run([str(py), "-m", "pip", "download", "-q", "--only-binary", ":all:", "-d", str(house), *PACKAGES], env)
        for old in house.glob("varwheel-*.whl"):
            old.unlink()
        run(
            [str(py), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(house), str(REPO)], env
        )
        run(
            [str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", *house.glob("varwheel-*.whl")],
            env,
        )
    return py, house, env


def median(samples: List[float]) -> float:
    return statistics.median(samples)


def measure(repeat: int, step: Callable[[int], float]) -> List[float]:
    return [step(i) for i in range(repeat)]


CHECK_SNIPPET = """\
import json, sys, time
import edbench_c
finder = next(f for f in sys.meta_path if getattr(f, "_varwheel_editable", None) == "edbench-c")
mod = sys.modules[finder.__module__]
name, n = "edbench_c._core", int(sys.argv[1])
records = open(mod._STATE + "/" + name + ".inputs").read().count("\\n") - 1
def timed():
    t0 = time.perf_counter()
    for _ in range(n):
        finder.find_spec(name, edbench_c.__path__)
    return (time.perf_counter() - t0) / n
on = min(timed() for _ in range(5))
saved, mod._STATE = mod._STATE, None
off = min(timed() for _ in range(5))
mod._STATE = saved
print(json.dumps({"on": on, "off": off, "files": records}))
"""


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", type=int, default=None, help="measurements per case (median); default 5")
    ap.add_argument("--quick", action="store_true", help="2 measurements per case")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="work dir (default: benchmarks/_work/editable)")
    ap.add_argument("--no-install", action="store_true", help="use the venv as it is (no pip install at all)")
    args = ap.parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (2 if args.quick else 5)
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)

    cores = core_count()
    print(f"machine: {cores} core(s) usable ({os.cpu_count()} online); python {sys.version.split()[0]}")
    print(f"load:    {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min averages)")
    for launcher in ("ccache", "sccache"):
        print(f"{launcher + ':':<8} {shutil.which(launcher) or 'not on PATH'}")
    print("         (CCACHE_DISABLE=1 for every build)")
    py, house, env = prepare(work, install=not args.no_install)
    isolated = dict(env, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(house))
    pip = [str(py), "-m", "pip", "install", "-q"]
    cpu_before = cpu_snapshot()
    results: Dict[str, float] = {}
    failures: List[str] = []

    def attempt(what: str, func: Callable[[], None]) -> None:
        try:
            func()
        except StepFailed as exc:
            print(f"  FAILED {what}: {exc}", file=sys.stderr, flush=True)
            failures.append(what)

    projects = {kind: make_project(work / "projects" / kind, kind, 1) for kind in ("c", "pybind11")}
    values = {kind: 1 for kind in projects}

    def reinstalls(kind: str) -> None:
        root = projects[kind]
        run([*pip, "--no-build-isolation", "-e", str(root), "-C", "editable.rebuild=true"], env)  # fills the cache
        noiso = measure(
            repeat, lambda _: run([*pip, "--no-build-isolation", "-e", str(root), "-C", "editable.rebuild=true"], env)
        )
        iso = measure(repeat, lambda _: run([*pip, "-e", str(root), "-C", "editable.rebuild=true"], isolated))
        # leave it installed without isolation, for the import measurements
        run([*pip, "--no-build-isolation", "-e", str(root), "-C", "editable.rebuild=true"], env)

        def changed(i: int) -> float:
            values[kind] += 1
            set_value(root, kind, values[kind])
            return run([*pip, "--no-build-isolation", "-e", str(root), "-C", "editable.rebuild=true"], env)

        pip_changed = measure(repeat, changed)
        results[f"{kind}: pip -e, no change, no isolation"] = median(noiso)
        results[f"{kind}: pip -e, no change, isolated"] = median(iso)
        results[f"{kind}: pip -e, one file changed, no isolation"] = median(pip_changed)

    def imports(kind: str) -> None:
        root = projects[kind]
        code = f"import edbench_{kind}._core as c; print(c.value())"

        def fresh(_: int) -> float:
            t = run([str(py), "-c", code], env)
            return t

        results[f"{kind}: fresh import, no change"] = median(measure(repeat, fresh))

        def rebuilt(_: int) -> float:
            values[kind] += 1
            set_value(root, kind, values[kind])
            start = time.perf_counter()
            out = output([str(py), "-c", code], env)
            elapsed = time.perf_counter() - start
            if f"{values[kind]}\n" not in out or "rebuilt" not in out:
                raise StepFailed(f"the import did not rebuild to {values[kind]}:\n{out}")
            return elapsed

        results[f"{kind}: fresh import, one file changed, rebuilt on import"] = median(measure(repeat, rebuilt))

    def check_cost() -> None:
        out = output([str(py), "-c", CHECK_SNIPPET, "2000"], env)
        data = json.loads(out.strip().splitlines()[-1])
        results["c: find_spec with the check (us)"] = data["on"] * 1e6
        results["c: find_spec without the check (us)"] = data["off"] * 1e6
        results["c: files the check stats"] = float(data["files"])

    for kind in projects:
        print(f"\n{kind}: reinstalls through pip ...", flush=True)
        attempt(f"{kind} reinstalls", lambda kind=kind: reinstalls(kind))  # type: ignore[misc]
        print(f"{kind}: imports ...", flush=True)
        attempt(f"{kind} imports", lambda kind=kind: imports(kind))  # type: ignore[misc]
    attempt("check cost", check_cost)

    print(f"\nmedians of {repeat} (seconds unless marked):")
    for key, value in results.items():
        print(f"  {key:<58} {value:9.3f}")

    def ratio(a: str, b: str, what: str) -> None:
        if a in results and b in results and results[b] > 0:
            print(f"  {what:<58} {results[a] / results[b]:8.2f}x")

    print("\nratios:")
    ratio(
        "pybind11: pip -e, no change, isolated",
        "pybind11: pip -e, no change, no isolation",
        "pybind11 reinstall: isolated / no isolation",
    )
    ratio(
        "c: find_spec with the check (us)",
        "c: find_spec without the check (us)",
        "find_spec: with the stat check / without",
    )
    for kind in projects:
        ratio(
            f"{kind}: fresh import, one file changed, rebuilt on import",
            f"{kind}: pip -e, one file changed, no isolation",
            f"{kind} one-file change: rebuild on import / pip -e",
        )
        ratio(
            f"{kind}: fresh import, one file changed, rebuilt on import",
            f"{kind}: fresh import, no change",
            f"{kind} import: rebuilt on import / nothing changed",
        )

    print("\ntargets:")
    for key, target in (
        ("pybind11: pip -e, no change, no isolation", TARGET_PYBIND11_NOOP_PIP),
        ("c: fresh import, one file changed, rebuilt on import", TARGET_REBUILD_ON_IMPORT),
    ):
        if key in results:
            verdict = "PASS" if results[key] <= target else "FAIL"
            print(f"  {verdict}  {key}: {results[key]:.3f} s (target <= {target:g} s)")
    report_other_load(cpu_before, cpu_snapshot(), cores)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

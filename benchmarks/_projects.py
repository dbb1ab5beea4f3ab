"""Generate the benchmark projects: the same C sources, configured for each backend.

Every project is a package ``wvbench`` (``src/wvbench/__init__.py``) with one extension
module ``wvbench._core``. Two shapes:

* ``one``:  one small C file, ``src/wvbench/_core.c`` (module init + a small function): a
  typical small extension, where the backend's own overhead is a large part of the time;
* ``many``: ``src/wvbench/_core.c`` (module init only) + ``N`` kernel files
  ``src/wvbench/kernels/kNN.c``, each a few hundred lines of generated arithmetic, so that
  compile time dominates a clean build.

Each backend gets its own copy of the tree plus its configuration:

* varwheel:          ``[[tool.varwheel.ext-modules]]`` in pyproject.toml
* setuptools:        pyproject.toml + setup.py with ``Extension``
* meson-python:      meson.build with ``py.extension_module``
* scikit-build-core: CMakeLists.txt with ``python_add_library``
"""

from __future__ import annotations

import random
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("varwheel", "setuptools", "meson-python", "scikit-build-core")
PACKAGE = "wvbench"
VERSION = "0.1.0"

# Name of the macro whose value changes in the "one file changed" scenario.
SEED_MACRO = "WV_SEED"

# How much code one kernel file holds. Tuned so one file takes a few tenths of a second at
# -O3 with gcc: enough that compiling dominates, small enough for a 10-minute full run.
HELPERS_PER_KERNEL = 14
STATEMENTS_PER_HELPER = 22


@dataclass(frozen=True)
class Project:
    backend: str
    shape: str  # "one" | "many"
    root: Path
    sources: tuple[str, ...]  # project-relative POSIX paths of the C files
    changed_file: str  # the file the "one file changed" scenario edits


# ------------------------------------------------------------------------------ C sources


def _kernel(index: int, seed_macro: bool) -> str:
    """One translation unit's worth of work: helpers with loops and mixed arithmetic."""
    rng = random.Random(1000 + index)
    ops = ("+", "-", "*")
    lines: list[str] = []
    if seed_macro:
        lines.append(f"#ifndef {SEED_MACRO}\n#define {SEED_MACRO} 1\n#endif\n")
    for h in range(HELPERS_PER_KERNEL):
        lines.append(f"static double wv_k{index}_h{h}(const double *v, long n, double s) {{")
        lines.append("    double a = s, b = 1.0, c = 0.5, d = 0.25;")
        lines.append("    long i;")
        lines.append("    for (i = 0; i < n; i++) {")
        lines.append("        double x = v[i];")
        for st in range(STATEMENTS_PER_HELPER):
            dst = "abcd"[st % 4]
            src1, src2 = rng.choice("abcdx"), rng.choice("abcdx")
            op1, op2 = rng.choice(ops), rng.choice(ops)
            k1 = rng.randint(2, 97)
            k2 = rng.randint(2, 97)
            if st % 5 == 4:
                lines.append(f"        if ({src1} > {k1}.0) {dst} = {dst} * 0.5 {op1} {src2} / {k2}.0;")
                lines.append(f"        else {dst} = {dst} {op2} ({src1} {op1} {k1}.0) * 0.001;")
            else:
                expr = f"({src1} {op2} {k1}.0) * 0.001 {op1} {src2} * (1.0 / {k2}.0)"
                lines.append(f"        {dst} = {dst} {op1} {expr};")
            if st % 7 == 6:
                lines.append(f"        {dst} = {dst} - (long)({dst} / 1024.0) * 1024.0;")
        lines.append("    }")
        lines.append("    return a + b + c + d;")
        lines.append("}\n")
    lines.append(f"double wv_kernel_{index}(const double *v, long n) {{")
    lines.append(f"    double acc = (double){SEED_MACRO if seed_macro else 1} * 1e-9;")
    for h in range(HELPERS_PER_KERNEL):
        lines.append(f"    acc += wv_k{index}_h{h}(v, n, acc * 0.001 + {h}.0);")
    lines.append("    return acc;")
    lines.append("}\n")
    return "\n".join(lines)


def _small_kernel() -> str:
    """The one-file project's kernel: a typical small extension, so backend overhead shows."""
    return textwrap.dedent(
        f"""\
        #ifndef {SEED_MACRO}
        #define {SEED_MACRO} 1
        #endif

        double wv_kernel_0(const double *v, long n) {{
            double acc = (double){SEED_MACRO} * 1e-9;
            long i;
            for (i = 0; i < n; i++) acc += v[i] * v[i] - 0.5 * v[i];
            return acc;
        }}
        """
    )


def _module_init(kernel_count: int) -> str:
    decls = "\n".join(f"double wv_kernel_{i}(const double *v, long n);" for i in range(kernel_count))
    calls = "\n".join(f"    acc += wv_kernel_{i}(v, n);" for i in range(kernel_count))
    return textwrap.dedent(
        """\
        #define PY_SSIZE_T_CLEAN
        #include <Python.h>

        {decls}

        static PyObject *wv_run(PyObject *self, PyObject *arg) {{
            double v[64];
            long n = 64, i;
            double scale = PyFloat_AsDouble(arg), acc = 0.0;
            if (scale == -1.0 && PyErr_Occurred()) return NULL;
            for (i = 0; i < n; i++) v[i] = scale * (double)i;
        {calls}
            return PyFloat_FromDouble(acc);
        }}

        static PyMethodDef wv_methods[] = {{
            {{"run", wv_run, METH_O, "Run every kernel over 64 values."}},
            {{NULL, NULL, 0, NULL}},
        }};

        static struct PyModuleDef wv_module = {{
            PyModuleDef_HEAD_INIT, "_core", NULL, -1, wv_methods,
        }};

        PyMODINIT_FUNC PyInit__core(void) {{ return PyModule_Create(&wv_module); }}
        """
    ).format(decls=decls, calls=calls)


def c_sources(shape: str, kernels: int) -> dict[str, str]:
    """Project-relative path -> text of every C file of a project shape."""
    base = f"src/{PACKAGE}"
    if shape == "one":
        return {f"{base}/_core.c": _small_kernel() + "\n" + _module_init(1)}
    files = {f"{base}/_core.c": _module_init(kernels)}
    for i in range(kernels):
        files[f"{base}/kernels/k{i:02d}.c"] = _kernel(i, True)
    return files


# ------------------------------------------------------------------------------ configs


def _project_table() -> str:
    return f'[project]\nname = "{PACKAGE}"\nversion = "{VERSION}"\nrequires-python = ">=3.9"\n'


def _varwheel(sources: list[str]) -> dict[str, str]:
    src = ", ".join(f'"{s}"' for s in sources)
    return {
        "pyproject.toml": (
            '[build-system]\nrequires = ["varwheel"]\nbuild-backend = "varwheel.build"\n\n'
            + _project_table()
            + f'\n[[tool.varwheel.ext-modules]]\nname = "{PACKAGE}._core"\nsources = [{src}]\n'
        )
    }


def _setuptools(sources: list[str]) -> dict[str, str]:
    src = ", ".join(repr(s) for s in sources)
    return {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
            + _project_table()
            + '\n[tool.setuptools.packages.find]\nwhere = ["src"]\n'
        ),
        "setup.py": (
            "from setuptools import Extension, setup\n\n"
            f'setup(ext_modules=[Extension("{PACKAGE}._core", sources=[{src}])])\n'
        ),
    }


def _meson(sources: list[str]) -> dict[str, str]:
    src = ", ".join(f"'{s}'" for s in sources)
    return {
        "pyproject.toml": (
            '[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n\n' + _project_table()
        ),
        "meson.build": (
            f"project('{PACKAGE}', 'c', version: '{VERSION}')\n"
            "py = import('python').find_installation(pure: false)\n"
            f"py.extension_module('_core', [{src}], install: true, subdir: '{PACKAGE}')\n"
            f"py.install_sources('src/{PACKAGE}/__init__.py', subdir: '{PACKAGE}')\n"
        ),
    }


def _skbuild(sources: list[str]) -> dict[str, str]:
    src = " ".join(sources)
    return {
        "pyproject.toml": (
            '[build-system]\nrequires = ["scikit-build-core"]\n'
            'build-backend = "scikit_build_core.build"\n\n'
            + _project_table()
            + f'\n[tool.scikit-build]\nminimum-version = "0.10"\nwheel.packages = ["src/{PACKAGE}"]\n'
        ),
        "CMakeLists.txt": (
            "cmake_minimum_required(VERSION 3.15...3.31)\n"
            "project(${SKBUILD_PROJECT_NAME} LANGUAGES C)\n"
            "find_package(Python REQUIRED COMPONENTS Interpreter Development.Module)\n"
            f"python_add_library(_core MODULE {src} WITH_SOABI)\n"
            f"install(TARGETS _core DESTINATION {PACKAGE})\n"
        ),
    }


_CONFIGS = {
    "varwheel": _varwheel,
    "setuptools": _setuptools,
    "meson-python": _meson,
    "scikit-build-core": _skbuild,
}


def generate(root: Path, backend: str, shape: str, kernels: int) -> Project:
    """Write a fresh project for ``backend`` at ``root`` (replacing what was there)."""
    if root.exists():
        shutil.rmtree(root)
    files = c_sources(shape, kernels)
    sources = sorted(files)
    files.update(_CONFIGS[backend](sources))
    files[f"src/{PACKAGE}/__init__.py"] = "from ._core import run\n\n__all__ = ['run']\n"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    changed = f"src/{PACKAGE}/_core.c" if shape == "one" else f"src/{PACKAGE}/kernels/k05.c"
    return Project(backend, shape, root, tuple(sources), changed)


def change_one_file(project: Project, generation: int) -> None:
    """Really change one C file (a new seed value: the object code differs) and bump its mtime."""
    path = project.root / project.changed_file
    text = path.read_text(encoding="utf-8")
    marker = f"#define {SEED_MACRO} "
    start = text.index(marker) + len(marker)
    end = text.index("\n", start)
    path.write_text(text[:start] + str(generation + 2) + text[end:], encoding="utf-8")

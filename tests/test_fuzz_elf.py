"""Fuzzing the ELF reader the audit trusts nothing to: mutated and truncated real shared
libraries (gcc-built here) give ElfInfo or one VarwheelError, in bounded time and memory."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from varwheel.audit.elf import clear_cache, read_elf
from varwheel.errors import VarwheelError

SOURCE = """
#include <stdio.h>
#include <unistd.h>
#include <math.h>
int visible(int x) { return printf("%d %f\\n", x + getpid(), sqrt((double)x)); }
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("elf")
    (d / "lib.c").write_text(SOURCE)
    out = d / "libfuzz.so"
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-O1", "-Wl,-soname,libfuzz.so.1", "-Wl,-rpath,$ORIGIN", "-o", str(out),
         str(d / "lib.c"), "-lm"],
        check=True,
    )  # fmt: skip
    return out.read_bytes()


def _read(data: bytes) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="varwheel-elf-fuzz-"))
    try:
        path = tmp / "x.so"
        path.write_bytes(data)
        clear_cache()
        start = time.monotonic()
        try:
            read_elf(path, subject="x.so")
        except VarwheelError as exc:
            assert "\n" not in exc.one_line()
        assert time.monotonic() - start < 2
    finally:
        shutil.rmtree(tmp)


def test_the_library_reads(library: bytes) -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        (tmp / "x.so").write_bytes(library)
        info = read_elf(tmp / "x.so")
        assert info.soname == "libfuzz.so.1" and "libm.so.6" in info.needed
    finally:
        shutil.rmtree(tmp)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=12))
def test_mutated_libraries(library: bytes, edits: list[tuple[int, int]]) -> None:
    data = bytearray(library)
    for pos, value in edits:
        data[pos % len(data)] = value
    _read(bytes(data))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=127), st.sampled_from([0, 1, 0x7F, 0x80, 0xFF])), max_size=6
    )
)
def test_mutated_headers(library: bytes, edits: list[tuple[int, int]]) -> None:
    """The ELF header and the first program headers, where one byte moves whole tables."""
    data = bytearray(library)
    for pos, value in edits:
        data[pos] = value
    _read(bytes(data))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0))
def test_truncated_libraries(library: bytes, cut: int) -> None:
    _read(library[: cut % (len(library) + 1)])

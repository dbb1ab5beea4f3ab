"""Which x86-64 level the machine code of an ELF file actually uses.

The GNU property note (``GNU_PROPERTY_X86_ISA_1_NEEDED``) is a declaration that GCC writes only
with ``-mneeded``; a ``-march=x86-64-v3`` build without it declares nothing, and a build with
it declares v3 even when the compiler found nothing to vectorise. For the summary of a
release build the maintainer wants the fact: did the compiler emit instructions of the level
the variant claims? This reads the disassembly (``objdump -d``, from binutils, which the
compiler uses anyway) and classifies each instruction by the newest level that has it:

- v4 (AVX-512): ``zmm`` registers, ``xmm16``..``ymm31``, mask registers ``%k0``..``%k7``,
  EVEX-only mnemonics (``vpternlogd``, ``vpermt2d``, ``vpcompressd``, ...);
- v3: every other VEX-encoded (``v``-prefixed) instruction, ``ymm`` registers, BMI1/BMI2,
  LZCNT, MOVBE, FMA, F16C;
- v2: SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B, LAHF/SAHF.

It is a classification of what is in the code, not a proof of what runs: code behind a
runtime CPU check (``__builtin_cpu_supports``, ifunc) counts too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

_V4_REG = re.compile(r"%(zmm\d+|[xy]mm(1[6-9]|2\d|3[01])|k[0-7])\b")
_YMM = re.compile(r"%ymm\d+\b")
_V4_MNEMONIC = re.compile(
    r"^v(p?ternlog|permt2|permi2|p?compress|p?expand|pro[lr]v?[dq]|pmov(s|us)?[qdw][bwd]$|"
    r"pabsq|psraq|psravq|pm(ax|in)[su]q|pmullq|rcp14|rsqrt14|scalef|getexp|getmant|rndscale|"
    r"fixupimm|reduce|range|fpclass|dbpsadbw|pconflict|plzcnt|ps[lr]lvw|psravw|pcmpu?[bwdq]$|"
    r"(broadcast|extract|insert)[if](32x[48]|64x[24])|align[dq]|shuf[if](32x4|64x2)|"
    r"cvt\w*(uqq|udq|qq|uq)\w*|pmovm2|pmov[bwdq]2m|perm[bw]$|blendm|pblendm)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_VMX = _words(
    "verr verw vmcall vmlaunch vmresume vmxoff vmxon vmread vmwrite vmptrld vmptrst vmclear "
    "vmfunc vmrun vmload vmsave vmmcall"
)
_V3_PLAIN = _words("andn bextr blsi blsmsk blsr bzhi lzcnt tzcnt movbe mulx pdep pext rorx sarx shlx shrx")
_V2 = _words(
    # SSE3
    "addsubps addsubpd haddps haddpd hsubps hsubpd lddqu movddup movshdup movsldup fisttp "
    # SSSE3
    "pshufb phaddw phaddd phaddsw phsubw phsubd phsubsw pabsb pabsw pabsd palignr pmaddubsw "
    "pmulhrsw psignb psignw psignd "
    # SSE4.1
    "blendps blendpd blendvps blendvpd pblendw pblendvb dpps dppd insertps extractps mpsadbw "
    "phminposuw pmuldq pmulld ptest roundps roundpd roundss roundsd packusdw pcmpeqq "
    "pminsb pminsd pminuw pminud pmaxsb pmaxsd pmaxuw pmaxud pextrb pextrd pextrq pinsrb pinsrd "
    "pinsrq pmovsxbw pmovsxbd pmovsxbq pmovsxwd pmovsxwq pmovsxdq pmovzxbw pmovzxbd pmovzxbq "
    "pmovzxwd pmovzxwq pmovzxdq movntdqa "
    # SSE4.2, POPCNT, CMPXCHG16B, LAHF/SAHF
    "pcmpgtq pcmpestri pcmpestrm pcmpistri pcmpistrm crc32 popcnt cmpxchg16b lahf sahf"
)
_SUFFIXES = ("b", "w", "l", "q")
_PREFIXES = _words("lock rep repz repnz repe repne notrack bnd data16")


def instruction_level(mnemonic: str, operands: str) -> int:
    """The x86-64 level (1..4) an instruction needs, from its AT&T mnemonic and operands."""
    if _V4_REG.search(operands) or (mnemonic.startswith("v") and _V4_MNEMONIC.match(mnemonic)):
        return 4
    if mnemonic.startswith("k") and "%k" in operands:
        return 4
    if (mnemonic.startswith("v") and mnemonic not in _VMX) or _YMM.search(operands):
        return 3
    base = mnemonic
    if base not in _V3_PLAIN and base not in _V2 and base[-1:] in _SUFFIXES:
        base = base[:-1]  # popcntq, crc32b, lzcntl, ...
    if base in _V3_PLAIN:
        return 3
    if base in _V2:
        return 2
    return 1


def used_level(path: Path | str, *, objdump: str | None = None) -> int | None:
    """The newest x86-64 level (1..4) among the instructions of ``path``; None if it cannot be
    read (no objdump, or not x86-64 code)."""
    tool = objdump or shutil.which("objdump")
    if tool is None:
        return None
    try:
        res = subprocess.run(
            [tool, "-d", "--no-show-raw-insn", "--no-addresses", "-M", "att", str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0 or "x86-64" not in res.stdout[:2000]:
        return None
    level = 1
    for line in res.stdout.splitlines():
        if not line.startswith("\t") and not line.startswith(" "):
            continue
        text = line.strip()
        if not text or text.endswith(":") or text.startswith("..."):
            continue
        words = text.split(None, 1)
        while words and words[0] in _PREFIXES:
            words = words[1].split(None, 1) if len(words) > 1 else []
        if not words:
            continue
        found = instruction_level(words[0], words[1] if len(words) > 1 else "")
        if found > level:
            level = found
            if level == 4:
                break
    return level

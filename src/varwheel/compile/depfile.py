"""Parse the Makefile-style dependency files written by ``gcc/clang -MMD -MF file``.

The grammar is the subset compilers emit:

* ``target [target...]: prereq prereq \\`` with backslash-newline continuations
  (``\\r\\n`` too);
* a space inside a name is written ``\\ ``; a run of 2n backslashes before a space is n
  literal backslashes followed by a separator, 2n+1 backslashes are n backslashes and a
  literal space (the GNU make / gcc convention);
* ``\\#`` is a literal ``#``, ``$$`` a literal ``$``; an unescaped ``#`` starts a comment;
* the rule separator is the first unescaped ``:`` followed by whitespace or the end of the
  line, so ``C:/x`` style names survive;
* several rules may follow each other (``-MP`` adds empty ones for headers).
"""

from __future__ import annotations

_SPACE = " \t"


def parse_depfile(text: str) -> list[str]:
    """All prerequisites of all rules, in order of first appearance, without duplicates."""
    deps: list[str] = []
    seen: set[str] = set()
    cur: list[str] = []
    in_prereqs = False
    n = len(text)
    i = 0

    def flush() -> None:
        if cur:
            token = "".join(cur)
            cur.clear()
            if token and in_prereqs and token not in seen:
                seen.add(token)
                deps.append(token)

    while i < n:
        c = text[i]
        if c == "\\":
            j = i
            while j < n and text[j] == "\\":
                j += 1
            count = j - i
            nxt = text[j] if j < n else ""
            if nxt in _SPACE and nxt:
                cur.append("\\" * (count // 2))
                if count % 2:
                    cur.append(nxt)
                    i = j + 1
                else:
                    i = j  # the blank separates tokens; handled next round
                continue
            if nxt == "\n" or (nxt == "\r" and text[j + 1 : j + 2] == "\n"):
                # continuation: earlier backslashes are literal, the last one joins the lines
                cur.append("\\" * (count - 1))
                flush()
                i = j + (1 if nxt == "\n" else 2)
                continue
            if nxt == "#":
                cur.append("\\" * (count // 2))
                if count % 2:
                    cur.append("#")
                    i = j + 1
                else:
                    i = j
                continue
            cur.append("\\" * count)
            i = j
            continue
        if c == "$" and text[i + 1 : i + 2] == "$":
            cur.append("$")
            i += 2
            continue
        if c in _SPACE:
            flush()
            i += 1
            continue
        if c == "\n" or c == "\r":
            flush()
            in_prereqs = False
            i += 1
            continue
        if c == "#" and not "".join(cur):
            while i < n and text[i] not in "\r\n":
                i += 1
            continue
        if c == ":" and not in_prereqs and _ends_target(text, i + 1):
            flush()  # a target name: dropped
            in_prereqs = True
            i += 1
            continue
        cur.append(c)
        i += 1
    flush()
    return deps


def _ends_target(text: str, j: int) -> bool:
    if j >= len(text):
        return True
    nxt = text[j]
    if nxt in " \t\r\n":
        return True
    if nxt == "\\":
        k = j + 1
        return k >= len(text) or text[k] in "\r\n"
    return False

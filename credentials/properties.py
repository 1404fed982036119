"""A Java-properties reader: the upstream plugin's config files are in that syntax."""

from typing import Dict, Iterable


def parse_properties(lines: Iterable[str]) -> Dict[str, str]:
    """Parse ``key=value`` / ``key: value`` / ``key value`` lines.

    Handles ``#`` and ``!`` comments, blank lines, trimmed whitespace and a
    trailing backslash that continues a logical line; later keys win.
    """
    result: Dict[str, str] = {}
    pending = ""
    for raw in lines:
        line = raw.rstrip("\r\n")
        if pending:
            line = pending + line.lstrip()
            pending = ""
        else:
            stripped = line.lstrip()
            if not stripped or stripped[0] in "#!":
                continue
            line = stripped
        if _ends_with_continuation(line):
            pending = line[:-1]
            continue
        _store(result, line)
    if pending:
        _store(result, pending)
    return result


def _ends_with_continuation(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _store(result: Dict[str, str], line: str) -> None:
    line = line.strip()
    if not line:
        return
    cut = len(line)
    for i, ch in enumerate(line):
        if ch in "=:" or ch.isspace():
            cut = i
            break
    key = line[:cut].strip()
    rest = line[cut:].lstrip()
    if rest[:1] in ("=", ":"):
        rest = rest[1:]
    if key:
        result[key] = rest.strip()

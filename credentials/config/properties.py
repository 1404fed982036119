"""A Java-properties reader: the upstream plugin's config files are in that syntax."""

import re
from typing import Dict, Iterable, List, Optional, Set

from ..errors import ConfigError

#: A line that sets a key (``some_key=``, ``some.key:``): when a trailing backslash joins such a line onto the
#: value above it, the value holds another line's key=value (most often a secret) by mistake. A separator inside
#: the name (``_``, ``.``, ``-``) keeps a wrapped base64 line (``ABCD==``) from looking like one.
_SETS_A_KEY = re.compile(r"([A-Za-z][A-Za-z0-9]*(?:[_.-][A-Za-z0-9]+)+)\s*[=:]")

#: Keys whose values are not shown in a repr (a traceback with its locals, a debugger, a log of the dict).
_HIDDEN = ("secret", "token", "password", "uri")


class Properties(Dict[str, str]):
    """The keys of a properties file. ``joined`` maps a key to the key of a line that a trailing backslash
    joined onto its value (``credentials_type=ak\\`` then ``credentials_access_secret=...``): such a value is
    reported without its content. The repr hides the values of secret-looking keys."""

    def __init__(self) -> None:
        super().__init__()
        self.joined: Dict[str, str] = {}

    def __repr__(self) -> str:
        shown = ", ".join(f"{key!r}: {'****' if self._hidden(key) else repr(value)}" for key, value in self.items())
        return f"Properties({{{shown}}})"

    def _hidden(self, key: str) -> bool:
        return key in self.joined or any(word in key.lower() for word in _HIDDEN)


def parse_properties(lines: Iterable[str]) -> Properties:
    """Parse ``key=value`` / ``key: value`` / ``key value`` lines.

    Handles ``#`` and ``!`` comments, blank lines, trimmed whitespace and a
    trailing backslash that continues a logical line; later keys win.
    """
    result = Properties()
    pending = ""
    swallowed: Optional[str] = None  # the key of a key=value line joined onto the pending one
    for raw in lines:
        line = raw.rstrip("\r\n")
        if pending:
            continued = line.lstrip()
            match = _SETS_A_KEY.match(continued)
            if match and swallowed is None:
                swallowed = match.group(1)
            line = pending + continued
            pending = ""
        else:
            stripped = line.lstrip()
            if not stripped or stripped[0] in "#!":
                continue
            line = stripped
        if _ends_with_continuation(line):
            pending = line[:-1]
            continue
        _store(result, line, swallowed)
        swallowed = None
    if pending:
        _store(result, pending, swallowed)
    return result


def _ends_with_continuation(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _store(result: Properties, line: str, swallowed: Optional[str]) -> None:
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
        if swallowed is not None:
            result.joined[key] = swallowed
        else:
            result.joined.pop(key, None)


def joined_keys(properties: Dict[str, str]) -> Dict[str, str]:
    """``Properties.joined`` of a parsed file; empty for a plain dict."""
    joined = getattr(properties, "joined", None)
    return dict(joined) if isinstance(joined, dict) else {}


def joined_line_errors(properties: Dict[str, str], file: str) -> List[ConfigError]:
    """A value that a trailing backslash joined to another key=value line (most often a secret): named by its key
    and the key it swallowed, never shown."""
    return [
        ConfigError(
            f"this line ends with a backslash, so the next line (which sets {swallowed}) was read as part of its "
            "value; remove the trailing backslash (the value is not shown: it holds that other line)",
            file=file,
            key=key,
        )
        for key, swallowed in joined_keys(properties).items()
    ]


def without(properties: Dict[str, str], keys: Set[str]) -> Dict[str, str]:
    """The keys but ``keys``, still a Properties (its repr hides the secrets)."""
    kept = Properties()
    kept.update((key, value) for key, value in properties.items() if key not in keys)
    return kept

"""JSON from text we do not control (a properties value, a client key file, an answer), parsed with a bounded
nesting depth.

Python's json module recurses once per level of nesting, so ``"[" * 100000`` raises RecursionError: an exception
no caller expects, and one that says nothing about where the text came from. What this library reads needs a few
levels; text nested deeper than ``MAX_DEPTH`` is refused with ``JsonTooDeep`` (a ValueError) before it is parsed,
so each caller turns it into its own typed error (ConfigError naming the key, CredentialsError with a code).
"""

import json
import re
from typing import Any, Union

#: Far above what a configuration or a secret needs (2-3 levels), far below the interpreter's recursion limit.
MAX_DEPTH = 64

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonTooDeep(ValueError):
    """The text nests arrays or objects deeper than the limit; it was not parsed."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"nested deeper than {max_depth} levels of [ and {{")
        self.max_depth = max_depth


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """Raise JsonTooDeep when ``text`` opens more than ``max_depth`` arrays or objects inside each other."""
    if text.count("[") + text.count("{") <= max_depth:  # the usual case, at the speed of str.count
        return
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):  # brackets inside strings do not nest
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(max_depth)
        else:
            depth -= 1


def loads(data: Union[str, bytes, bytearray], max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises JsonTooDeep (a ValueError) instead of RecursionError; otherwise the same, and
    the same ``json.JSONDecodeError`` for text that is not JSON."""
    text = data if isinstance(data, str) else bytes(data).decode(json.detect_encoding(data), "surrogatepass")
    check_depth(text, max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # a caller already deep in its own stack: the same answer, never RecursionError
        raise JsonTooDeep(max_depth) from None

"""JSON from text we do not control, parsed within bounds: never RecursionError, never a quoted document.

Python's json module recurses once per level of nesting, so ``"[" * 100000`` raises RecursionError: an exception no
caller expects, and one that says nothing about where the text came from. Both readers here count the nesting
first, without recursion, and refuse what is too deep with a ValueError whose text never quotes the document (it
may hold a secret); each caller turns it into its own typed error (ConfigError naming the key, CredentialsError
with a code).

* ``loads``: a properties value or a client key file, written by a person. Only the depth is bounded; text that is
  not JSON raises json's own JSONDecodeError, whose position helps whoever fixes the file.
* ``loads_bounded``: an answer from a service (KMS, SecretData). Also refuses what no service sends: more than
  ``MAX_CHARS`` characters, invalid UTF-8, NaN and Infinity, numbers longer than 64 characters, the same key twice
  in one object (which of the two wins differs between parsers).
"""

import json
import math
import re
from typing import Any, Dict, List, Tuple, Union

MAX_DEPTH = 64  # a configuration value or a secret needs 2-3 levels; far below the interpreter's recursion limit
MAX_ANSWER_DEPTH = 32  # a KMS answer is three levels deep, SecretData one
MAX_CHARS = 1 << 20  # a GetSecretValue answer is well under a kilobyte
MAX_NUMBER_CHARS = 64  # digits of one number (int() of a long digit string costs quadratic time on old Pythons)

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # a JSON string, escapes included
_BRACKET = re.compile(r"[\[\]{}]")


class JsonRejected(ValueError):
    """Why a document was refused (``str()``: "is not JSON", "is nested deeper than 32 levels", ...)."""


class JsonTooDeep(JsonRejected):
    """The text nests arrays or objects deeper than the limit; it was not parsed."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"nested deeper than {max_depth} levels of [ and {{")
        self.max_depth = max_depth


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """Raise JsonTooDeep when ``text`` opens more than ``max_depth`` arrays or objects inside each other."""
    if text.count("[") + text.count("{") <= max_depth:  # the usual case, at the speed of str.count
        return
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub('""', text)):  # brackets inside strings do not nest
        if bracket in "[{":
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


def loads_bounded(
    text: Union[str, bytes, bytearray], *, max_depth: int = MAX_ANSWER_DEPTH, max_chars: int = MAX_CHARS
) -> Any:
    """``json.loads(text)``, refusing with JsonRejected what is not plain JSON within bounds (see the module)."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > max_chars * 4:
            raise JsonRejected(f"is {len(text)} bytes long (at most {max_chars} characters are read)")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRejected("is not UTF-8") from None
    if len(text) > max_chars:
        raise JsonRejected(f"is {len(text)} characters long (at most {max_chars} are read)")
    try:
        check_depth(text, max_depth)
    except JsonTooDeep:
        raise JsonRejected(f"is nested deeper than {max_depth} levels") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_int=_int,
            parse_float=_float,
        )
    except JsonRejected:
        raise
    except (ValueError, RecursionError):  # RecursionError: only if the stack was nearly full already
        raise JsonRejected("is not JSON") from None


def _object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise JsonRejected("has the same key twice in one object")
    return result


def _constant(name: str) -> Any:
    raise JsonRejected(f"has {name}, which is not a JSON number")


def _int(digits: str) -> int:
    if len(digits) > MAX_NUMBER_CHARS:
        raise JsonRejected(f"has a number of {len(digits)} digits")
    return int(digits)


def _float(digits: str) -> float:
    if len(digits) > MAX_NUMBER_CHARS:
        raise JsonRejected(f"has a number of {len(digits)} characters")
    value = float(digits)
    if not math.isfinite(value):
        raise JsonRejected("has a number too large for a float")
    return value

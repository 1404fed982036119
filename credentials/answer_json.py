"""JSON that comes from outside the process (a KMS answer, the SecretData inside it), read within bounds.

``json.loads`` recurses once per nesting level, so ``[`` x 100,000 raises RecursionError, which no caller expects;
it also accepts what no service sends: NaN and Infinity, the same key twice in one object (which of the two wins
differs between parsers), numbers of any length. ``loads_bounded`` refuses all of these with ``JsonRejected``, a
ValueError whose text says what is wrong without quoting the document (it may hold a secret). A KMS answer is
three levels deep, SecretData one: the bounds are far above what a real answer needs.
"""

import json
import math
import re
from typing import Any, Dict, List, Tuple, Union

MAX_DEPTH = 32  # nesting levels of arrays and objects
MAX_CHARS = 1 << 20  # a GetSecretValue answer is well under a kilobyte
MAX_NUMBER_CHARS = 64  # digits of one number (int() of a long digit string costs quadratic time on old Pythons)

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # a JSON string, escapes included
_BRACKET = re.compile(r"[\[\]{}]")


class JsonRejected(ValueError):
    """Why a document was refused (``str()``: "is not JSON", "is nested deeper than 32 levels", ...)."""


def loads_bounded(text: Union[str, bytes], *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> Any:
    """``json.loads(text)``, refusing with JsonRejected what is not plain JSON within bounds: nesting deeper than
    ``max_depth``, more than ``max_chars`` characters, invalid UTF-8, NaN or Infinity, a number longer than 64
    characters, a key twice in one object. Never RecursionError."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > max_chars * 4:
            raise JsonRejected(f"is {len(text)} bytes long (at most {max_chars} characters are read)")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRejected("is not UTF-8") from None
    if len(text) > max_chars:
        raise JsonRejected(f"is {len(text)} characters long (at most {max_chars} are read)")
    if _nesting(text, max_depth) > max_depth:
        raise JsonRejected(f"is nested deeper than {max_depth} levels")
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


def _nesting(text: str, limit: int) -> int:
    """How deep the brackets outside strings go (at least up to ``limit + 1``); no recursion."""
    if text.count("[") + text.count("{") <= limit:
        return 0  # cannot be deeper than the limit: skip the scan
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


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

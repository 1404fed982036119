"""Request bodies that a re-issue must send again whole, or not at all (httpx's ``requires_request_body`` rule).

Before the first attempt we note where each stream stands; before a re-issue a seekable stream is rewound to
that point, and a body that cannot be replayed (a consumed non-seekable stream, an iterator) refuses the
re-issue, so nothing partial is ever sent.
"""
import io
from typing import Any, Callable, Iterable, List, Optional, Tuple

# Sent as they are, any number of times.
_PLAIN_VALUES = (bytes, bytearray, str, memoryview, int, float, dict, type(None))


def body_rewinder(values: Iterable[Any]) -> Optional[Callable[[], bool]]:
    """For a call's arguments (or their bodies): None when nothing needs rewinding; otherwise a function that
    rewinds every stream and returns True, or returns False when some body cannot be sent again."""
    marks: List[Tuple[Any, int]] = []
    replayable = True
    for value in values:
        if isinstance(value, _PLAIN_VALUES):
            continue
        if hasattr(value, "read"):
            try:
                if value.seekable() if hasattr(value, "seekable") else hasattr(value, "seek"):
                    marks.append((value, value.tell()))
                    continue
            except (OSError, ValueError, io.UnsupportedOperation):
                pass
            replayable = False
        elif hasattr(value, "__next__"):
            replayable = False
    if not replayable:
        return _cannot_replay
    if not marks:
        return None

    def rewind() -> bool:
        try:
            for stream, position in marks:
                stream.seek(position)
        except (OSError, ValueError):
            return False
        return True

    return rewind


def _cannot_replay() -> bool:
    return False

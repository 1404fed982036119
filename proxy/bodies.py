"""Request bodies that a re-issue must send again whole, or not at all (httpx's ``requires_request_body`` rule).

Before the first attempt we note where each stream stands; before a re-issue a seekable stream is rewound to
that point, and a body that cannot be replayed (a consumed non-seekable stream, an iterator) refuses the
re-issue, so nothing partial is ever sent.

A client may hand us the user's stream inside a wrapper of its own that cannot seek (oss2's resumable upload
passes each part as ``SizedFileAdapter(file, size)``). ``unwrap`` sees through such a wrapper to the stream
inside: that stream is rewound, and the wrapper's own position is put back with it.
"""

import io
from typing import Any, Callable, Iterable, List, Optional, Tuple

# Sent as they are, any number of times.
_PLAIN_VALUES = (bytes, bytearray, str, memoryview, int, float, dict, type(None))

# unwrap(value) -> (the stream inside, a function that puts the wrapper's own state back), or None for no wrapper.
Unwrap = Callable[[object], Optional[Tuple[object, Callable[[], None]]]]
_MAX_WRAPPERS = 8  # wrappers inside wrappers: bounded, a cycle must not hang a call


def body_rewinder(values: Iterable[object], unwrap: Optional[Unwrap] = None) -> Optional[Callable[[], bool]]:
    """For a call's arguments (or their bodies): None when nothing needs rewinding; otherwise a function that
    rewinds every stream and returns True, or returns False when some body cannot be sent again."""
    marks: List[Tuple[Any, int]] = []  # (a stream, where it stood)
    resets: List[Callable[[], None]] = []
    replayable = True
    for value in values:
        if isinstance(value, _PLAIN_VALUES):
            continue
        value, wrapper_resets = _unwrapped(value, unwrap)  # the stream itself, inside any wrapper
        if hasattr(value, "read"):
            try:
                if value.seekable() if hasattr(value, "seekable") else hasattr(value, "seek"):
                    marks.append((value, value.tell()))
                    resets.extend(wrapper_resets)
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
        for reset in resets:
            reset()
        return True

    return rewind


def _unwrapped(value: Any, unwrap: Optional[Unwrap]) -> Tuple[Any, List[Callable[[], None]]]:
    resets: List[Callable[[], None]] = []
    for _ in range(_MAX_WRAPPERS):
        inner = unwrap(value) if unwrap is not None else None
        if inner is None:
            break
        value, reset = inner
        resets.append(reset)
    return value, resets


def _cannot_replay() -> bool:
    return False

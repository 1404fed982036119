"""Request bodies that a re-issue sends again whole, or not at all (httpx's ``requires_request_body`` rule).

An allow-list, judged before the first attempt: a body is re-sent only when it is known to give the same bytes
twice. Known are bytes-like values and ``str`` (sent as they are), and streams that can be put back where they
stood when the call began: ``seekable()`` says True (or, for objects older than the io protocol, such as ``mmap``
before Python 3.13, ``seek`` and ``tell`` exist) and ``tell()`` gives the position as an int. Before a re-issue
each such stream is sought back to that position, and ``tell()`` must then give it again (a ``seek`` that did
nothing would leave the stream at its end, and an empty body would be stored). Anything else is refused, and the
re-issue with it: iterators and generators (what they gave is gone), iterables (a class with only ``__iter__``
over a socket gives nothing the second time), async iterables, streams that cannot seek, and every type not named
here. A refused re-issue raises the original error; nothing partial is sent, nothing empty is stored.

A call's other arguments (headers, key lists, model objects, callbacks) are built into the request anew on each
attempt: they are reused as they are, unless the SDK reads or iterates them; then they must be containers that
iterate anew (a list, a dict, ...) or pass the body rule (a generator of keys would make an empty request).

A client may hand us the user's stream inside a wrapper of its own that cannot seek (oss2's resumable upload
passes each part as ``SizedFileAdapter(file, size)``). ``unwrap`` sees through such a wrapper to the stream
inside: the stream is judged and rewound, and the wrapper's own position is put back with it.
"""

import inspect
from collections.abc import Mapping, Sequence, Set
from typing import Any, Callable, Iterable, List, Optional, Tuple, Union

# Bodies sent as they are, any number of times.
REPLAYABLE_VALUES = (bytes, bytearray, memoryview, str, type(None))
# Other arguments that the SDK reads again on a re-issue and that read the same twice.
_REUSABLE_ARGUMENTS = (str, bytes, int, float, type(None), dict, list, tuple, Mapping, Sequence, Set)

# unwrap(value) -> (the stream inside, a function that puts the wrapper's own state back), or None for no wrapper.
Unwrap = Callable[[object], Optional[Tuple[object, Callable[[], None]]]]
_MAX_WRAPPERS = 8  # wrappers inside wrappers: bounded, a cycle must not hang a call

# (a stream, where it stood, what puts its wrappers back)
_Mark = Tuple[Any, int, List[Callable[[], None]]]


class Rewind:
    """A call's streams and where they stood. Calling it before a re-issue puts every stream back and returns True,
    or returns False when a body cannot be sent again; ``reason`` then says why, for the log line."""

    __slots__ = ("_marks", "reason")

    def __init__(self, marks: List[_Mark], reason: Optional[str]) -> None:
        self._marks = marks
        self.reason = reason

    def __call__(self) -> bool:
        if self.reason is not None:
            return False
        for stream, position, resets in self._marks:
            try:
                stream.seek(position)
                back = stream.tell() == position
            except Exception as exc:  # noqa: BLE001 - a stream that cannot be put back is not re-sent, whatever it raised
                self.reason = (
                    f"{type(stream).__name__} could not be put back to position {position} ({type(exc).__name__})"
                )
                return False
            if not back:
                self.reason = f"{type(stream).__name__} did not go back to position {position} when asked"
                return False
            for reset in resets:
                reset()
        return True


def body_rewinder(
    bodies: Iterable[object], unwrap: Optional[Unwrap] = None, arguments: Iterable[object] = ()
) -> Optional[Rewind]:
    """For a call's request bodies (and, optionally, its other ``arguments``): None when nothing needs rewinding;
    otherwise a Rewind (which refuses the re-issue when a body is not known to be replayable).

    ``arguments`` are values the SDK builds the request from anew on each attempt (headers, key lists, model
    objects, callbacks): reused as they are, unless the SDK would read or iterate them, in which case they must
    be known containers (a list, a dict, ...) or pass the body rule."""
    marks: List[_Mark] = []
    for body in bodies:
        if isinstance(body, REPLAYABLE_VALUES):
            continue
        judged = _judge(body, unwrap)
        if isinstance(judged, str):
            return Rewind([], judged)
        marks.append(judged)
    for argument in arguments:
        if isinstance(argument, _REUSABLE_ARGUMENTS) or not _read_or_iterated(argument):
            continue
        judged = _judge(argument, unwrap)
        if isinstance(judged, str):
            return Rewind([], judged)
        marks.append(judged)
    return Rewind(marks, None) if marks else None


def why_not_replayable(rewind: Optional[Callable[[], bool]]) -> str:
    """What the log line says when ``rewind()`` returned False."""
    reason = getattr(rewind, "reason", None)
    return reason if isinstance(reason, str) else "the body could not be rewound"


def _judge(value: Any, unwrap: Optional[Unwrap]) -> Union[_Mark, str]:
    """Where the stream inside ``value`` stands, or why ``value`` cannot be sent again."""
    stream, resets, wrappers = _unwrapped(value, unwrap)
    position = _position(stream)
    if position is not None:
        return stream, position, resets
    return _describe(stream) + "".join(f" inside {type(wrapper).__name__}" for wrapper in wrappers) + _why(stream)


def _position(stream: Any) -> Optional[int]:
    """``stream.tell()`` when the stream can be sought back to it; None when it cannot be (or cannot say so)."""
    if not hasattr(stream, "read"):
        return None
    try:
        seekable = getattr(stream, "seekable", None)
        if seekable is not None:
            if seekable() is not True:
                return None
        elif not hasattr(stream, "seek"):
            return None
        position = stream.tell()
    except Exception:  # noqa: BLE001 - a stream that cannot say where it stands is not replayable
        return None
    return position if type(position) is int else None


def _read_or_iterated(value: Any) -> bool:
    return any(hasattr(value, name) for name in ("read", "__iter__", "__next__", "__aiter__", "__anext__"))


def _describe(value: Any) -> str:
    if inspect.isgenerator(value):
        return "a generator"
    if inspect.isasyncgen(value):
        return "an async generator"
    return type(value).__name__


def _why(value: Any) -> str:
    if hasattr(value, "read"):
        return ": a stream that cannot seek back to where it stood"
    if hasattr(value, "__next__") or hasattr(value, "__anext__"):
        return ": an iterator, what it gave is gone"
    if hasattr(value, "__iter__") or hasattr(value, "__aiter__"):
        return ": an iterable (only bytes, str and seekable streams are sent again)"
    return ": not bytes, str or a seekable stream"


def _unwrapped(value: Any, unwrap: Optional[Unwrap]) -> Tuple[Any, List[Callable[[], None]], List[Any]]:
    resets: List[Callable[[], None]] = []
    wrappers: List[Any] = []
    for _ in range(_MAX_WRAPPERS):
        inner = unwrap(value) if unwrap is not None else None
        if inner is None:
            break
        wrappers.append(value)
        value, reset = inner
        resets.append(reset)
    return value, resets, wrappers[::-1]

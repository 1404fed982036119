"""Which oss2 calls ProxyBucket and ProxyService re-issue, and how: a wrapper on every public method.

Re-issue happens around the public methods, where the caller's arguments are still intact: ``put_object`` wraps
its data in CRC and progress adapters before ``_do``, so re-calling ``_do`` would re-send a consumed stream. Each
wrapper's docstring is one line saying which oss2 method it is and whether it is re-issued, so ``help(ProxyBucket)``
does not repeat oss2's documentation of every method.
"""

import functools
import inspect
from typing import Any, Callable, Dict, Optional, Tuple

import oss2

from credentials.masking import ATTEMPT, redact_exception

from ..bodies import Rewind, body_rewinder


def unwrap_sized_file_adapter(value: object) -> Optional[Tuple[object, Callable[[], None]]]:
    """oss2.utils.SizedFileAdapter(file_object, size): how resumable_upload hands each part to upload_part (a view
    of `size` bytes of the caller's file from where it stands, with no seek). Its attributes file_object and
    offset are public; a re-issue seeks the file back and puts offset back, so the part is re-sent whole.
    (The other oss2 wrappers, the CRC and progress adapters, are made inside the methods we re-issue, from the
    caller's own argument, so we judge the caller's object. One the caller made itself, with
    oss2.make_progress_adapter, is the caller's body: it cannot seek, so it is not re-sent.)"""
    if isinstance(value, oss2.utils.SizedFileAdapter):
        offset = value.offset

        def reset() -> None:
            value.offset = offset

        return value.file_object, reset
    return None


# Public Bucket methods that make no request of their own, or replay a URL signed with the old key.
_NOT_REISSUED = frozenset(
    {
        "sign_url",
        "sign_rtmp_url",
        "get_object_with_url",
        "get_object_with_url_to_file",
        "put_object_with_url",
        "put_object_with_url_from_file",
    }
)


# The parameter that carries a request body as the caller gave it (put_object, append_object, upload_part): oss2
# wraps it in its CRC and progress adapters inside the method, so here it is still the caller's own object.
_BODY = "data"


def _body_position(method: Callable[..., Any]) -> Optional[int]:
    """Where ``data`` stands among the method's positional parameters (after self); None when it takes no body."""
    names = list(inspect.signature(method).parameters)[1:]
    return names.index(_BODY) if _BODY in names else None


def call_rewinder(position: Optional[int], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[Rewind]:
    """The call's body judged by the body rule (proxy/bodies.py), its other arguments by the argument rule (a key
    list given as a generator would build an empty request the second time). Noted before the first attempt."""
    if position is None:
        body, others = None, args
    elif position < len(args):
        body, others = args[position], args[:position] + args[position + 1 :]
    else:
        body, others = kwargs.get(_BODY), args
    if kwargs:
        others += tuple(kwargs.values()) if _BODY not in kwargs else tuple(v for k, v in kwargs.items() if k != _BODY)
    return body_rewinder((body,), unwrap_sized_file_adapter, others)


def _reissuing(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a public oss2.Bucket method. Only the outermost call of a thread re-issues (put_object_from_file
    calls put_object: one budget per user call, not one per layer)."""
    position = _body_position(method)

    @functools.wraps(method)
    def call(bucket: Any, *args: Any, **kwargs: Any) -> Any:
        local = bucket._call_depth
        if getattr(local, "active", False):
            return method(bucket, *args, **kwargs)
        rewind = call_rewinder(position, args, kwargs)  # before any read
        reissuer = bucket._reissuer
        local.active = True
        token = ATTEMPT.set(reissuer.judge_record)  # in this thread: also oss2's own worker threads (resumable)
        try:
            return method(bucket, *args, **kwargs)  # the first attempt runs bare: a success pays no more
        except Exception as exc:
            if not reissuer.is_expired_key_error(exc):
                redact_exception(exc)  # no token or signature in the text of what the caller gets
                raise
            return reissuer.reissue(exc, lambda: method(bucket, *args, **kwargs), rewind)
        finally:
            ATTEMPT.reset(token)
            local.active = False

    call.__doc__ = f"{_sdk_name(method)}, re-issued once the key is refreshed when it was rotated or revoked."
    return call


def _sdk_name(method: Callable[..., Any]) -> str:
    """``oss2.Bucket.put_object``: where help() finds the SDK's own documentation of a wrapped method."""
    return f"oss2.{method.__qualname__}"


# Why each method of _NOT_REISSUED is not re-issued: the one line help(ProxyBucket) shows for it.
_WHY_NOT_REISSUED = {
    "sign_url": "makes no request: signs, locally, with the key current now (a URL signed before a revocation "
    "fails, by design: sign a new one)",
    "sign_rtmp_url": "makes no request: signs with the key current now",
    "get_object_with_url": "replays a URL signed earlier: sending the old signature again cannot succeed",
}


def _masking(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a public method that is not re-issued: its errors too leave without a token or signature in their text
    (get_object_with_url's connection error holds the signed URL)."""

    @functools.wraps(method)
    def call(bucket: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(bucket, *args, **kwargs)
        except Exception as exc:
            redact_exception(exc)
            raise

    why = _WHY_NOT_REISSUED.get(method.__name__, _WHY_NOT_REISSUED["get_object_with_url"])
    call.__doc__ = f"{_sdk_name(method)}, not re-issued: it {why}."
    return call


def wrap_public_methods(cls: type, base: type) -> None:
    for name in dir(base):
        attr = getattr(base, name)
        if not name.startswith("_") and callable(attr) and not isinstance(attr, type):
            setattr(cls, name, _masking(attr) if name in _NOT_REISSUED else _reissuing(attr))

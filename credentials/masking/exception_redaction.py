"""Secrets masked in the exceptions that leave our calls: the SDKs' own, and everything on their chains.

An SDK exception can carry the request it failed on: aliyunsdkcore's ClientException for a connection error holds
the URL, ``SecurityToken`` and ``Signature`` in its query; tea's UnretryableException (RPC style) the same; the
requests / urllib3 errors on their ``__context__`` chain hold it again. The SDK's log record of that error is masked
(redaction.py), but the exception is what the application logs (``logger.exception(...)``), prints or
reports. ``redact_exception(exc)`` masks it in place, with the same rule as the log records, before it is raised to
the caller: the proxies call it where an error leaves their call wrappers, the KMS client where a transport error
becomes a KmsRequestError.

What changes, and what does not. The type stays (``except ClientException:`` and ``type(e).__name__`` see the
SDK's class), and so do the attributes handlers read (``code``, ``error_code``, ``status``, ``request_id``); the
text attributes (``message``, ``details``, ...), ``args`` and ``__notes__`` are replaced by masked copies (a str
stays a str, a dict a dict: never mutated in place, since the SDK may share them). The exceptions found in them
(``inner_exception``, ``reason``, an argument) and on ``__cause__`` / ``__context__`` get the same, at most
``MAX_EXCEPTIONS`` of them. An exception whose ``str()`` or ``repr()`` still shows a secret after that (it formats
an object we do not open, such as a request) is moved to a subclass of its class, made once per class, whose
``__str__`` and ``__repr__`` mask; it has the class's name and module and pickles as the class.
"""

from collections import deque
from typing import Any, Deque, Dict, List, Mapping, Optional, Set, Type

from .known_secrets import hide
from .redaction import MASK, _redact_bytes, is_sensitive_name, redact

MAX_EXCEPTIONS = 32  # exceptions masked per call: a chain (cause, context, wrapped errors) is never longer
_MAX_DEPTH = 4  # containers inside containers
_OS_ERROR_TEXTS = ("strerror", "filename", "filename2")  # OSError's str() reads these, not args


def redact_exception(exc: BaseException, known: Optional[Mapping[str, str]] = None) -> BaseException:
    """Mask every secret in ``exc`` and the exceptions it carries (see the module docstring); returns ``exc``.
    ``known``: text secret whatever its names, replaced by what it maps to (credentials/masking/known_secrets.py)."""
    text = _Text(known or {})
    queue: Deque[BaseException] = deque([exc])
    seen: Set[int] = set()
    while queue and len(seen) < MAX_EXCEPTIONS:
        current = queue.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        try:
            queue.extend(_redact_one(current, text))
        except Exception:  # noqa: BLE001 - masking must never replace the error the caller is owed
            pass
    return exc


class _Text:
    """How one call masks a str: the known replacements (as the text was given), then redact()."""

    def __init__(self, known: Mapping[str, str]):
        self.known = known

    def __call__(self, value: str) -> str:
        return redact(hide(value, self.known) if self.known else value)


def _redact_one(error: BaseException, text: _Text) -> List[BaseException]:
    """Mask ``error`` itself; the exceptions it carries are returned, to be masked next."""
    found: List[BaseException] = []
    args = _masked(error.args, found, 0, text)
    if args is not error.args:
        error.args = args
    state: Dict[str, Any] = getattr(error, "__dict__", {})
    for name, value in list(state.items()):
        masked = _masked(value, found, 0, text)
        if masked is not value:
            state[name] = masked
    if isinstance(error, OSError):
        for name in _OS_ERROR_TEXTS:
            value = getattr(error, name, None)
            if isinstance(value, str) and text(value) is not value:
                setattr(error, name, text(value))
    if _still_shows_a_secret(error, text):
        _mask_the_text_of(error)
    found.extend(e for e in (error.__cause__, error.__context__) if e is not None)
    return found


def _masked(value: Any, found: List[BaseException], depth: int, text: _Text) -> Any:
    """``value`` masked in its own type (str, bytes, dict, list, tuple; anything else as it is); the exceptions
    in it are collected into ``found`` and kept as they are (they are masked in place later)."""
    if isinstance(value, BaseException):
        found.append(value)
        return value
    if isinstance(value, str):
        return text(value)
    if isinstance(value, bytes):
        return _redact_bytes(value)
    if depth >= _MAX_DEPTH:
        return value
    if type(value) is dict:
        items = {
            key: (
                MASK
                if is_sensitive_name(key) and isinstance(item, str) and item
                else _masked(item, found, depth + 1, text)
            )
            for key, item in value.items()
        }
        return items if any(items[key] is not value[key] for key in value) else value
    if type(value) in (list, tuple):
        elements = [_masked(item, found, depth + 1, text) for item in value]
        if all(a is b for a, b in zip(elements, value)):
            return value
        return elements if type(value) is list else tuple(elements)
    return value


def _still_shows_a_secret(error: BaseException, text: _Text) -> bool:
    try:
        shown, representation = str(error), repr(error)
    except Exception:  # noqa: BLE001 - an exception whose str() fails shows nothing
        return False
    return text(shown) is not shown or text(representation) is not representation


# --- the last resort: a subclass whose str() and repr() mask ---------------------------------------------------------

_MARK = "_managed_credentials_masked"
_classes: Dict[type, type] = {}


def _mask_the_text_of(error: BaseException) -> None:
    if getattr(type(error), _MARK, False):
        return
    try:
        error.__class__ = _masking_class(type(error))
    except TypeError:  # a built-in class, whose instances cannot change class: its args were masked above
        pass


def _masking_class(base: Type[BaseException]) -> type:
    made = _classes.get(base)
    if made is None:

        def __str__(self: BaseException) -> str:
            return redact(base.__str__(self))

        def __repr__(self: BaseException) -> str:
            return redact(base.__repr__(self))

        def __reduce__(self: BaseException) -> Any:
            reduced = base.__reduce__(self)
            if isinstance(reduced, tuple) and reduced and isinstance(reduced[0], type):
                return (_public_class(reduced[0]),) + reduced[1:]
            return reduced

        made = type(
            base.__name__,
            (base,),
            {
                "__str__": __str__,
                "__repr__": __repr__,
                "__reduce__": __reduce__,
                "__module__": base.__module__,
                "__qualname__": base.__qualname__,
                "__doc__": base.__doc__,
                _MARK: True,
            },
        )
        made = _classes.setdefault(base, made)  # two threads racing here: one class is kept
    return made


def _public_class(cls: type) -> type:
    """The first class of ``cls``'s MRO that is not one of these subclasses (nor proxy/errors.py's noted ones)."""
    for candidate in cls.__mro__:
        own = vars(candidate)
        if not own.get(_MARK) and not own.get("_managed_credentials_noted"):
            return candidate
    return cls

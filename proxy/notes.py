"""A re-issue given up because the refresh failed: the service's own error says why.

The service's exception is raised (same class as far as ``isinstance``, ``except`` and ``type(e).__name__`` can
tell, same code and attributes); its ``str()`` ends with why healing failed and its ``__cause__`` is the
CredentialsError. None of the three SDKs ends ``str()`` with an attribute that could carry a note (aliyunsdkcore:
``... RequestID: <id>``; oss2: the repr of a dict; tea: ``Response: <data>``), so the instance is moved to a subclass
of its own class, made once per class, whose ``__str__`` appends the note; pickling gives back the SDK's class.
"""

import os
import threading
from typing import Any, Dict, Optional, Type

from credentials import CredentialsError, CredentialsProvider
from credentials.model import Credentials, mask
from credentials.throttling import is_throttling

NOTE_ATTRIBUTE = "managed_credentials_note"

_noted_lock = threading.Lock()
_noted: Dict[Type[BaseException], type] = {}


def _reset_lock_after_fork() -> None:
    global _noted_lock
    _noted_lock = threading.Lock()  # a parent's thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


def _noted_class(base: Type[BaseException]) -> type:
    """``base`` with a ``__str__`` that ends with the note; looks like ``base`` to tracebacks and pickle."""
    with _noted_lock:
        made = _noted.get(base)
        if made is None:

            def __str__(self: BaseException) -> str:
                note = getattr(self, NOTE_ATTRIBUTE, None)
                text = base.__str__(self)
                return f"{text}; {note}" if note else text

            def __reduce__(self: BaseException) -> Any:
                reduced = base.__reduce__(self)
                if isinstance(reduced, tuple) and reduced and reduced[0] is made:
                    return (base,) + reduced[1:]
                return reduced

            made = type(
                base.__name__,
                (base,),
                {
                    "__str__": __str__,
                    "__reduce__": __reduce__,
                    "__module__": base.__module__,
                    "__qualname__": base.__qualname__,
                    "__doc__": base.__doc__,
                    "_managed_credentials_noted": True,
                },
            )
            _noted[base] = made
        return made


def explain(error: BaseException, note: str, cause: Optional[BaseException]) -> BaseException:
    """Make ``str(error)`` end with ``note`` and ``error.__cause__`` be ``cause``; returns ``error`` itself."""
    if not getattr(type(error), "_managed_credentials_noted", False):
        try:
            error.__class__ = _noted_class(type(error))
        except TypeError:  # a class whose instances cannot change class (slots): Python still shows a note
            if hasattr(error, "add_note") and note not in getattr(error, "__notes__", ()):
                error.add_note(note)
    try:
        setattr(error, NOTE_ATTRIBUTE, note)
    except AttributeError:
        pass
    error.__cause__ = cause
    return error


def note_of(error: BaseException) -> Optional[str]:
    """The note ``explain`` appended to ``error``'s text, or None."""
    note = getattr(error, NOTE_ATTRIBUTE, None)
    return note if isinstance(note, str) else None


def source_of(provider: CredentialsProvider) -> str:
    """How a note names where the key comes from: ``secret 'app'``, or the provider's name."""
    secret_name = getattr(provider, "secret_name", None)
    if secret_name:
        return f"secret {secret_name!r}"
    return str(getattr(provider, "name", None) or type(provider).__name__)


def refresh_failed_note(provider: CredentialsProvider, cause: CredentialsError) -> str:
    """``managed credentials: secret 'app' could not be refreshed: SecretData field AccessKeySecret is missing``;
    for throttling: ``... could not be refreshed: KMS is throttling (Rejected.Throttling); the refresh goes on in
    the background``."""
    if is_throttling(cause):
        code = cause.code or "HTTP 429"
        return (
            f"managed credentials: {source_of(provider)} could not be refreshed: KMS is throttling ({code}); "
            "the refresh goes on in the background"
        )
    reason = getattr(cause, "reason", None) or str(cause)
    code = f" (error code {cause.code})" if cause.code else ""
    return f"managed credentials: {source_of(provider)} could not be refreshed: {reason}{code}"


def same_key_note(provider: CredentialsProvider, key: Optional[Credentials]) -> str:
    """The source answered, with the very key the service rejected (revoked outside a rotation?)."""
    key_id = mask(key.access_key_id) if key is not None else "<none>"
    return (
        f"managed credentials: {source_of(provider)} still holds the key the service rejected ({key_id}): "
        f"rotate the secret, or enable the key again"
    )


def explain_same_key(provider: CredentialsProvider, error: BaseException, stale: Optional[Credentials]) -> str:
    """Say at the end of ``error`` why the rejected key ``stale`` is all there is: the provider's last fetch failed
    (it kept the old key), or the secret still holds that key; nothing when another thread has meanwhile brought a
    new key. Returns the reason as the operator's line says it (outcomes.heal_failed)."""
    last_error = getattr(provider, "last_error", None)
    cause = last_error() if callable(last_error) else None
    if cause is not None:
        explain(error, refresh_failed_note(provider, cause), cause)
        return no_new_key(cause)
    if not getattr(provider, "secret_name", None):
        return "the source still returns that key"
    without_waiting = getattr(provider, "credentials_without_waiting", None)
    current = without_waiting() if callable(without_waiting) else None
    if current is None or current == stale:
        explain(error, same_key_note(provider, stale), None)
        return "the secret still holds that key: rotate the secret, or enable the key again"
    return "the source still returns that key"


def no_new_key(cause: CredentialsError) -> str:
    """Why a rejected key could not be replaced, as the operator's line says it: ``no new key could be fetched
    (cannot reach KMS at ..., error code SDK.HttpError)``."""
    reason = getattr(cause, "reason", None) or str(cause)
    code = f", error code {cause.code}" if cause.code else ""
    return f"no new key could be fetched ({reason}{code})"

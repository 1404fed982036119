"""Errors a legacy application's handlers catch: the SDKs' own exception types, carrying our reason.

Two cases, one rule each:

* **No key could be obtained** (KMS unreachable before the first key, a malformed secret, the start-up deadline
  passed). The call raises an instance of the SDK's own client-side exception *and* of
  ``credentials.CredentialsError``: ``AcsCredentialsUnavailable`` (an aliyunsdkcore ``ClientException``,
  ``get_error_code()`` = ``ManagedCredentials.Unavailable``), ``OssCredentialsUnavailable`` (an
  ``oss2.exceptions.ClientError``, status -1) and ``TeaCredentialsUnavailable`` (tea-openapi's ``ClientException``,
  ``code`` = ``ManagedCredentials.Unavailable``; ``Tea.exceptions.TeaException`` on tea-openapi versions without
  it), ``OssV2CredentialsUnavailable`` (OSS SDK V2's ``OperationError``, ``unwrap()`` a
  ``CredentialsFetchError``, as a plain V2 client raises it) and ``SlsCredentialsUnavailable`` (Log Service's
  ``LogException``, ``get_error_code()`` = ``ManagedCredentials.Unavailable``). ``except ClientException:`` /
  ``except oss2.exceptions.OssError:`` / ``except TeaException:`` / ``except OperationError:`` /
  ``except LogException:`` blocks written for the plain SDK catch them, and so does ``except CredentialsError:``.
  ``secret_name`` is set; ``__cause__`` is the original CredentialsError, whose ``code`` is the KMS (or source)
  error code. ``code`` of the ACS, OSS and Log Service errors is that code too (none of those SDKs gives its client
  errors a ``code``); tea's ``code`` is its own attribute.

* **A re-issue was given up because the refresh failed.** The service's exception is raised (same class as far
  as ``isinstance``, ``except`` and ``type(e).__name__`` can tell, same code and attributes); its ``str()`` ends
  with why healing failed and its ``__cause__`` is the CredentialsError. None of the three SDKs ends ``str()``
  with an attribute that could carry a note (aliyunsdkcore: ``... RequestID: <id>``; oss2: the repr of a dict;
  tea: ``Response: <data>``), so the instance is moved to a subclass of its own class, made once per class,
  whose ``__str__`` appends the note; pickling gives back the SDK's class.

Each SDK's classes are made at first need, so importing ``proxy`` imports neither oss2 nor tea.
"""

import functools
import os
import threading
from typing import Any, Dict, Optional, Type

from credentials import CredentialsError, CredentialsProvider
from credentials.model import Credentials, mask
from credentials.throttling import is_throttling

UNAVAILABLE_CODE = "ManagedCredentials.Unavailable"


def unavailable_message(cause: CredentialsError) -> str:
    """``managed credentials: no key could be obtained: secret 'app': ... (error code ...)``."""
    return f"managed credentials: no key could be obtained: {cause}"


def _share_cause(error: CredentialsError, cause: CredentialsError, message: str) -> None:
    """The CredentialsError half of a typed error: the fields of ``cause`` (never a secret)."""
    error.secret_name = cause.secret_name
    error.reason = getattr(cause, "reason", str(cause))
    error.args = (message,)
    error.__cause__ = cause


def _reduce_to(error: BaseException, cause: CredentialsError) -> tuple:
    return type(error), (cause,)


# --- no key: one class per SDK, made at first need -----------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _acs_class() -> type:
    from aliyunsdkcore.acs_exception.exceptions import ClientException

    class AcsCredentialsUnavailable(ClientException, CredentialsError):
        """No key for a ProxyAcsClient call: an aliyunsdkcore ClientException and a CredentialsError."""

        def __init__(self, cause: CredentialsError):
            message = unavailable_message(cause)
            ClientException.__init__(self, UNAVAILABLE_CODE, message)
            _share_cause(self, cause, message)
            self.code = cause.code

        def __reduce__(self) -> tuple:
            return _reduce_to(self, self.__cause__)  # type: ignore[arg-type]

    return _public(AcsCredentialsUnavailable)


@functools.lru_cache(maxsize=None)
def _oss_class() -> type:
    from oss2.exceptions import ClientError

    class OssCredentialsUnavailable(ClientError, CredentialsError):
        """No key for a ProxyBucket / ProxyService call: an oss2 ClientError and a CredentialsError."""

        def __init__(self, cause: CredentialsError):
            message = unavailable_message(cause)
            ClientError.__init__(self, message)
            _share_cause(self, cause, message)
            self.code = cause.code

        def __reduce__(self) -> tuple:
            return _reduce_to(self, self.__cause__)  # type: ignore[arg-type]

    return _public(OssCredentialsUnavailable)


@functools.lru_cache(maxsize=None)
def _tea_class() -> type:
    try:  # tea-openapi >= 0.4: the client-side exception it raises itself (e.g. InvalidCredentials)
        from alibabacloud_tea_openapi.exceptions import ClientException as TeaClientError

        keyword_init = True
    except ImportError:  # older tea-openapi raises plain TeaExceptions
        from Tea.exceptions import TeaException as TeaClientError

        keyword_init = False

    class TeaCredentialsUnavailable(TeaClientError, CredentialsError):
        """No key for a V2 (tea-openapi) call: the tea family's client-side exception and a CredentialsError."""

        def __init__(self, cause: CredentialsError):
            message = unavailable_message(cause)
            if keyword_init:
                TeaClientError.__init__(self, code=UNAVAILABLE_CODE, message=message)
            else:
                TeaClientError.__init__(self, {"code": UNAVAILABLE_CODE, "message": message})
            _share_cause(self, cause, message)

        def __reduce__(self) -> tuple:
            return _reduce_to(self, self.__cause__)  # type: ignore[arg-type]

    return _public(TeaCredentialsUnavailable)


@functools.lru_cache(maxsize=None)
def _oss_v2_class() -> type:
    from alibabacloud_oss_v2.exceptions import CredentialsFetchError, OperationError

    class OssV2CredentialsUnavailable(OperationError, CredentialsError):
        """No key for a ProxyOssClient call: the OperationError around a CredentialsFetchError that a plain OSS SDK
        V2 client raises (``unwrap()`` gives the CredentialsFetchError), and a CredentialsError."""

        def __init__(self, cause: CredentialsError, name: str = ""):
            OperationError.__init__(self, name=name, error=CredentialsFetchError(error=cause))
            message = f"operation error {name}: {unavailable_message(cause)}" if name else unavailable_message(cause)
            _share_cause(self, cause, message)
            self.code = cause.code

        def __reduce__(self) -> tuple:
            return type(self), (self.__cause__, self.kwargs.get("name", ""))

    return _public(OssV2CredentialsUnavailable)


@functools.lru_cache(maxsize=None)
def _sls_class() -> type:
    from aliyun.log.logexception import LogException

    class SlsCredentialsUnavailable(LogException, CredentialsError):
        """No key for a ProxyLogClient call (or a Log Service handler's send): a LogException, as the SDK raises for
        its own client-side failures (``get_error_code()`` = ``ManagedCredentials.Unavailable``, no request id), and
        a CredentialsError."""

        def __init__(self, cause: CredentialsError):
            message = unavailable_message(cause)
            LogException.__init__(self, UNAVAILABLE_CODE, message)
            _share_cause(self, cause, message)
            self.code = cause.code

        def __reduce__(self) -> tuple:
            return _reduce_to(self, self.__cause__)  # type: ignore[arg-type]

    return _public(SlsCredentialsUnavailable)


def _public(cls: type) -> type:
    """Name the class as ``proxy.errors.<Name>`` (module __getattr__ makes it there), so that pickle finds it."""
    cls.__module__ = __name__
    cls.__qualname__ = cls.__name__
    return cls


_CLASSES = {
    "AcsCredentialsUnavailable": _acs_class,
    "OssCredentialsUnavailable": _oss_class,
    "TeaCredentialsUnavailable": _tea_class,
    "OssV2CredentialsUnavailable": _oss_v2_class,
    "SlsCredentialsUnavailable": _sls_class,
}


def __getattr__(name: str) -> Any:  # PEP 562: the classes exist once asked for
    maker = _CLASSES.get(name)
    if maker is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return maker()


def _typed(maker: Any, error: CredentialsError) -> CredentialsError:
    cls = maker()
    return error if isinstance(error, cls) else cls(error)


def for_acs(error: CredentialsError) -> CredentialsError:
    """``error`` as ProxyAcsClient raises it (an aliyunsdkcore ClientException too)."""
    return _typed(_acs_class, error)


def for_oss(error: CredentialsError) -> CredentialsError:
    """``error`` as ProxyBucket / ProxyService raise it (an oss2 ClientError too)."""
    return _typed(_oss_class, error)


def for_tea(error: CredentialsError) -> CredentialsError:
    """``error`` as a V2 (tea-openapi) client raises it (tea's client-side exception too)."""
    return _typed(_tea_class, error)


def for_oss_v2(error: CredentialsError, operation: str = "") -> CredentialsError:
    """``error`` as ProxyOssClient / ProxyAsyncOssClient raise it (OSS SDK V2's OperationError too)."""
    cls = _oss_v2_class()
    return error if isinstance(error, cls) else cls(error, operation)


def for_sls(error: CredentialsError) -> CredentialsError:
    """``error`` as ProxyLogClient raises it (a Log Service LogException too)."""
    return _typed(_sls_class, error)


# --- healing given up: the service's error says why ----------------------------------------------------------------

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

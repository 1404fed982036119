"""Errors a legacy application's handlers catch when no key could be obtained: the SDKs' own exception types,
carrying our reason. (When a re-issue is given up because the refresh failed, the service's own exception is raised,
ending with why: notes.py.)

No key could be obtained (KMS unreachable before the first key, a malformed secret, the start-up deadline passed):
the call raises an instance of the SDK's own client-side exception *and* of ``credentials.CredentialsError``:
``AcsCredentialsUnavailable`` (an aliyunsdkcore ``ClientException``, ``get_error_code()`` =
``ManagedCredentials.Unavailable``), ``OssCredentialsUnavailable`` (an ``oss2.exceptions.ClientError``, status -1)
and ``TeaCredentialsUnavailable`` (tea-openapi's ``ClientException``, ``code`` = ``ManagedCredentials.Unavailable``;
``Tea.exceptions.TeaException`` on tea-openapi versions without it), ``OssV2CredentialsUnavailable`` (OSS SDK V2's
``OperationError``, ``unwrap()`` a ``CredentialsFetchError``, as a plain V2 client raises it) and
``SlsCredentialsUnavailable`` (Log Service's ``LogException``, ``get_error_code()`` =
``ManagedCredentials.Unavailable``). ``except ClientException:`` / ``except oss2.exceptions.OssError:`` /
``except TeaException:`` / ``except OperationError:`` / ``except LogException:`` blocks written for the plain SDK
catch them, and so does ``except CredentialsError:``. ``secret_name`` is set; ``__cause__`` is the original
CredentialsError, whose ``code`` is the KMS (or source) error code. ``code`` of the ACS, OSS and Log Service errors
is that code too (none of those SDKs gives its client errors a ``code``); tea's ``code`` is its own attribute.

Each SDK's classes are made at first need, so importing ``proxy`` imports neither oss2 nor tea.
"""

import functools
from typing import Any

from credentials import CredentialsError

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

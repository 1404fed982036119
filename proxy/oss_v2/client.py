"""ProxyOssClient: an OSS SDK V2 (alibabacloud-oss-v2) Client whose key comes from the provider layer and heals.

    import alibabacloud_oss_v2 as oss
    client = ProxyOssClient(cfg, secret_name="my-ram-secret")          # or credentials_provider=provider
    client.put_object(oss.PutObjectRequest(bucket="b", key="k", body=b"..."))

Signing: the client gets a ManagedOssCredentialsProvider (proxy/oss_v2/provider.py) as its credentials
provider, so every attempt signs with the current snapshot. Healing: a call that fails with an expired-key error
(OssV2AKExpireHandler: the ServiceError inside the OperationError) makes one single-flight refresh with the key
that signed it, and the same call is made again, signed anew, at most twice (proxy.reissue.Reissuer).

Why a subclass that overrides the public methods, and not a Retryer wrapping the configured one. Both need no
private API of the SDK, but a Retryer only sees the error: not the call, so a per-call budget of two re-issues
would be state on a shared object; not which key signed, so single-flight needs the same bookkeeping anyway; it
is consulted synchronously inside the async client's loop, where a refresh would block the event loop; and
``Config.retry_max_attempts`` (or ``retry_max_attempts=`` per call) overrides its ``max_attempts()``, so
``retry_max_attempts=1`` would switch healing off without a word. At the public method the caller's request is
intact, so its body can be rewound (proxy/bodies.py) or, when it cannot be replayed, not re-sent at all.

What the subclass covers: every public request method (put_object, get_object, upload_part, copy_object, ...,
and invoke_operation). What calls them through the client is covered too: paginators, ``uploader()``,
``downloader()``, ``copier()``, ``open_file()``, ``put_object_from_file()`` (each part or page heals on its own).
``presign()`` sends nothing; it signs with the current key. The repr stays the SDK's ``<OssClient>``: the
uploader, downloader and copier read the client's CRC settings only from a client whose str() is that.
"""

import contextvars
import functools
import itertools
from typing import Any, Callable, Iterable, List, Optional, Tuple

# isort: off
from .provider import ManagedOssCredentialsProvider  # first: without the extra, says what to install
import alibabacloud_oss_v2 as oss
# isort: on

from credentials import CredentialsError, CredentialsProvider
from credentials.masking import ATTEMPT, redact_exception

from .. import errors
from ..bodies import REPLAYABLE_VALUES, Rewind, body_rewinder
from ..fresh_connections import renew_adapter, renew_connections
from ..handlers import AKExpireHandler, OssV2AKExpireHandler, unwrap_oss_v2_error
from ..reissue import Reissuer
from ..source import reset_http_after_fork
from ._compat import sdk_http_client

# Public methods that send no request of their own (they return helpers that call the client's methods, which
# heal), or sign a URL with the current key.
NOT_REISSUED = frozenset({"presign", "uploader", "downloader", "copier", "open_file", "append_file"})

# The client whose public method is running in this thread (sync) or task (asyncio): only the outermost call
# re-issues (put_object_from_file calls put_object: one budget per user call, not one per layer).
ACTIVE: "contextvars.ContextVar[Optional[object]]" = contextvars.ContextVar(
    "managed_credentials_oss_v2_call", default=None
)


def managed_provider_for(
    config: Any,
    secret_name: Optional[str],
    credentials_provider: Optional[Any],
    client_name: str,
    defer_in_event_loop: bool = False,
) -> Tuple[ManagedOssCredentialsProvider, bool]:
    """The provider a proxy client signs with, and whether the client owns it (and releases it at shutdown)."""
    given = getattr(config, "credentials_provider", None)
    if secret_name is None and credentials_provider is None:
        if isinstance(given, ManagedOssCredentialsProvider):
            return given, False
        raise ValueError(
            f"{client_name} needs secret_name= (a KMS managed RAM credential) or credentials_provider= "
            "(a credentials.CredentialsProvider), or config.credentials_provider = "
            "ManagedOssCredentialsProvider(...)"
        )
    if given is not None and not isinstance(given, ManagedOssCredentialsProvider):
        raise ValueError(
            f"config.credentials_provider is another provider ({type(given).__name__}); {client_name} "
            "signs with the managed key: drop it, or make it a ManagedOssCredentialsProvider"
        )
    if secret_name is None and isinstance(credentials_provider, ManagedOssCredentialsProvider):
        return credentials_provider, False
    return (
        ManagedOssCredentialsProvider(
            secret_name, credentials_provider=credentials_provider, defer_in_event_loop=defer_in_event_loop
        ),
        True,
    )


def request_body_rewinder(args: Tuple[Any, ...], kwargs: dict) -> Optional[Rewind]:
    """The call's request bodies (``request.body``, ``op_input.body``) judged by the body rule (proxy/bodies.py),
    noted before the first attempt. The SDK wraps a body (CRC, progress) only inside the call, so this is the
    caller's own object; the uploader's parts are bytes, or a section of the caller's seekable reader."""
    if not kwargs and len(args) == 1:  # the usual call, client.put_object(request): no generator, no loop
        body = getattr(args[0], "body", None)
        return None if isinstance(body, REPLAYABLE_VALUES) else body_rewinder((body,))
    values: Iterable[Any] = itertools.chain(args, kwargs.values()) if kwargs else args
    return body_rewinder(getattr(value, "body", None) for value in values)


def credentials_unavailable(exc: BaseException) -> Optional[BaseException]:
    """The SDK's OperationError around a CredentialsFetchError around our CredentialsError (no key could be had), as
    an error that is both (proxy/errors.py); None for any other error."""
    if isinstance(exc, oss.exceptions.OperationError) and not isinstance(exc, CredentialsError):
        inner = unwrap_oss_v2_error(exc)
        if isinstance(inner, CredentialsError):
            return errors.for_oss_v2(inner, exc.kwargs.get("name", ""))
    return None


# aiohttp sessions a forked child let go of (empty in any process that did not fork after using an async client):
# kept referenced, never used again, so that no finalizer in the child logs an "unclosed session" error or closes
# transports registered with the parent's event loop.
_INHERITED: List[Any] = []


def renew_sdk_connections(http: Any) -> None:
    """In a forked child: the V2 SDK's HTTP client on connections of its own. requests (sync): the session (yours,
    or the one the SDK made) gets new pools, keeping its settings. aiohttp (async): a session the SDK made belongs
    to the parent's event loop; it is let go, and the child's first call opens a new one on the child's loop (a
    session you made and passed in is yours: it is left as it is)."""
    if isinstance(http, oss.transport.RequestsHttpClient):
        if http.session is not None:
            renew_connections(http.session)
        if http.adapter is not None:
            renew_adapter(http.adapter)
    elif getattr(http, "session_owner", False) and getattr(http, "session", None) is not None:
        _INHERITED.append(http.session)
        http.session, http.session_owner = None, False


def public_request_methods(cls: type) -> Iterable[Tuple[str, Callable[..., Any]]]:
    for name in dir(cls):
        attr = getattr(cls, name)
        if (
            not name.startswith("_")
            and callable(attr)
            and not isinstance(attr, type)
            and name not in NOT_REISSUED
            and not name.endswith("_paginator")
        ):
            yield name, attr


class ManagedOssClientMixin:
    """What the sync and async V2 proxies share: the provider, the re-issue rule, the lifecycle."""

    _managed: ManagedOssCredentialsProvider
    _owns_provider: bool
    _defer_in_event_loop = False  # the asyncio client: no first fetch in a constructor run on the loop
    _reissuer: Reissuer
    _shut_down: bool

    def _manage(
        self,
        config: Any,
        secret_name: Optional[str],
        credentials_provider: Optional[Any],
        ak_expire_handler: Optional[AKExpireHandler],
    ) -> ManagedOssCredentialsProvider:
        self._managed, self._owns_provider = managed_provider_for(
            config, secret_name, credentials_provider, type(self).__name__, self._defer_in_event_loop
        )
        self._reissuer = Reissuer(
            self._managed.credentials_provider,
            ak_expire_handler or OssV2AKExpireHandler(),
            self._managed.last_signed,
            sdk="oss-v2",
        )
        self._shut_down = False
        return self._managed

    @property
    def credentials_provider(self) -> CredentialsProvider:
        """Our provider behind the client (the one ``secret_name=`` acquired, or the one given)."""
        return self._managed.credentials_provider

    @property
    def managed_credentials_provider(self) -> ManagedOssCredentialsProvider:
        """The SDK-facing provider the client signs with (usable for another plain V2 client)."""
        return self._managed

    def shutdown(self) -> None:
        """Release this client's hold on a shared secret provider. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        if self._owns_provider:
            self._managed.shutdown()

    def _after_fork_in_child(self) -> None:
        """A forked child must not share the parent's pooled keep-alive connections (answers would cross)."""
        renew_sdk_connections(sdk_http_client(self))


def _reissuing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(client: "ProxyOssClient", *args: Any, **kwargs: Any) -> Any:
        if ACTIVE.get() is client:
            return method(client, *args, **kwargs)
        rewind = request_body_rewinder(args, kwargs)  # before anything is read
        reissuer = client._reissuer
        token = ACTIVE.set(client)
        attempt = ATTEMPT.set(reissuer.judge_record)
        try:
            try:
                return method(client, *args, **kwargs)  # the first attempt runs bare: a success pays no more
            except Exception as exc:
                if not reissuer.is_expired_key_error(exc):
                    redact_exception(exc)  # no token or signature in the text of what the caller gets
                    raise
                return reissuer.reissue(exc, lambda: method(client, *args, **kwargs), rewind)
        except oss.exceptions.OperationError as exc:
            typed = credentials_unavailable(exc)
            if typed is None:
                raise
            raise typed from typed.__cause__
        finally:
            ATTEMPT.reset(attempt)
            ACTIVE.reset(token)

    call.__doc__ = reissued_doc(method)
    return call


def reissued_doc(method: Callable[..., Any]) -> str:
    """The one line help() shows for a wrapped method, instead of the SDK's documentation again."""
    return (
        f"alibabacloud_oss_v2.{method.__qualname__}, re-issued once the key is refreshed when it was rotated or "
        "revoked."
    )


class ProxyOssClient(ManagedOssClientMixin, oss.Client):
    """An ``alibabacloud_oss_v2.Client`` (OSS SDK V2, extra ``.[oss-v2]``) that signs with a managed key and heals
    on rotation::

        client = ProxyOssClient(config, secret_name="my-ram-secret")
        client = ProxyOssClient(config, credentials_provider=provider, ak_expire_handler=MyHandler())
        client = ProxyOssClient(config)   # with config.credentials_provider = ManagedOssCredentialsProvider(...)
        client.put_object(oss.PutObjectRequest(bucket="b", key="k", body=b"..."))

    What heals: every public request method (put_object, get_object, upload_part, ..., invoke_operation), and so
    what calls them: paginators, ``uploader()``, ``downloader()``, ``copier()``, ``open_file()`` (each part or
    page on its own). When a call fails with an error the ``ak_expire_handler`` judges to be a rotated or revoked
    key (``OssV2AKExpireHandler``: the ServiceError inside the OperationError, with OssAKExpireHandler's codes),
    the key is refreshed once for every thread that saw it and the call is made again, signed anew, at most twice.
    A seekable body is rewound first.

    What is not re-issued, and why: ``presign()`` sends nothing; it signs with the key current at that moment, so
    a URL presigned before a revocation fails when it is used, by design (presign again). A body that cannot be
    replayed (a one-way stream, an iterator) is not re-sent: the SDK's error is raised, and the key is refreshed
    anyway. Any other error reaches the caller unchanged. When no key can be had, a call raises the SDK's
    ``OperationError`` (``unwrap()``: a CredentialsFetchError), which is also a ``credentials.CredentialsError``.
    Each method below is the SDK's: ``help(alibabacloud_oss_v2.Client.put_object)`` documents it.
    """

    def __init__(
        self,
        config: oss.config.Config,
        secret_name: Optional[str] = None,
        *,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        **kwargs: Any,
    ) -> None:
        """``config``: the SDK's Config (region, endpoint, signature version, ...), which must not carry another
        credentials provider. Exactly one of ``secret_name`` (a managed RAM credential in KMS Secrets Manager) and
        ``credentials_provider`` (any ``credentials.CredentialsProvider``), or neither when ``config`` carries a
        ManagedOssCredentialsProvider. ``ak_expire_handler``: which errors mean a rotated key (default
        ``OssV2AKExpireHandler()``). Other keywords pass to the SDK's Client."""
        managed = self._manage(config, secret_name, credentials_provider, ak_expire_handler)
        try:
            super().__init__(config, credentials_provider=managed, **kwargs)
        except BaseException:
            self.shutdown()
            raise
        reset_http_after_fork(self)

    def __enter__(self) -> "ProxyOssClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()


for _name, _method in public_request_methods(oss.Client):
    setattr(ProxyOssClient, _name, _reissuing(_method))
del _name, _method

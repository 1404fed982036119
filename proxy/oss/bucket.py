"""ProxyBucket: an oss2.Bucket whose key comes from the provider layer and heals on rotation.

oss2 signs through its own credentials-provider auth (ProviderAuth /
ProviderAuthV4), which asks our adapter for the current snapshot on every
signing. Re-issue happens around the public methods, where the caller's
arguments are still intact: ``put_object`` wraps its data in CRC and progress
adapters before ``_do``, so re-calling ``_do`` would re-send a consumed stream.
"""

import functools
import inspect
import threading
from typing import Any, Callable, Dict, Optional, Tuple

import oss2

from credentials import CredentialsError, CredentialsProvider
from credentials.masking import ATTEMPT, redact_exception
from credentials.model import Credentials

from .. import errors
from ..bodies import Rewind, body_rewinder
from ..fresh_connections import renew_connections
from ..handlers import AKExpireHandler, OssAKExpireHandler
from ..reissue import Reissuer
from ..source import KeySource, check_secret_name, reset_http_after_fork


class OssCredentialsAdapter:
    """oss2's credentials-provider interface over ours; remembers which snapshot signed this thread's request.

    Our Credentials already has oss2's getters (get_access_key_id, ...), so no copy is made per request.
    """

    def __init__(self, provider: CredentialsProvider) -> None:
        self.provider = provider
        self._local = threading.local()

    def get_credentials(self) -> Credentials:
        try:
            creds = self.provider.get_credentials()
        except CredentialsError as exc:  # no key at all: an oss2 ClientError, as the SDK's own client errors are
            raise errors.for_oss(exc) from exc  # __cause__: the CredentialsError
        self._local.credentials = creds
        return creds

    def last_signed(self) -> Optional[Credentials]:
        return getattr(self._local, "credentials", None)


def make_auth(adapter: OssCredentialsAdapter, auth_version: str, region: Optional[str]) -> Any:
    if auth_version == "v4":
        if not region:
            raise ValueError("auth_version='v4' needs region= (e.g. region='cn-hangzhou')")
        return oss2.ProviderAuthV4(adapter)
    if auth_version == "v2":
        return oss2.ProviderAuthV2(adapter)
    if auth_version in ("v1", None):
        return oss2.ProviderAuth(adapter)
    raise ValueError(f"auth_version must be 'v1', 'v2' or 'v4', not {auth_version!r}")


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

    return call


class _ManagedOssClient:
    """What ProxyBucket and ProxyService share: the key source, oss2's provider auth over it, the re-issue rule,
    and the lifecycle (shutdown, context manager, fresh connections after fork)."""

    session: Any  # oss2's http.Session, set by oss2's constructor (the one you passed as session=, or its own)

    def _connect(
        self,
        init: Callable[[Any], None],
        secret_name: Optional[str],
        credentials_provider: Optional[CredentialsProvider],
        ak_expire_handler: Optional[AKExpireHandler],
        auth_version: str,
        kwargs: Dict[str, Any],
    ) -> None:
        """Run the oss2 constructor ``init(auth)`` with an auth that reads our provider."""
        if "auth" in kwargs:
            raise ValueError(
                f"{type(self).__name__} takes its key from secret_name= or credentials_provider=, not auth="
            )
        self._source = KeySource(secret_name, credentials_provider, type(self).__name__)
        try:
            self._adapter = OssCredentialsAdapter(self._source.provider)
            init(make_auth(self._adapter, auth_version, kwargs.get("region")))
        except BaseException:
            self._source.release()
            raise
        self._reissuer = Reissuer(
            self._source.provider, ak_expire_handler or OssAKExpireHandler(), self._adapter.last_signed, sdk="oss2"
        )
        self._call_depth = threading.local()
        self._own_session = kwargs.get("session") is None
        self._shut_down = False
        reset_http_after_fork(self)

    @property
    def credentials_provider(self) -> CredentialsProvider:
        return self._source.provider

    def shutdown(self) -> None:
        """Release this client's hold on the shared provider (and close its own connections). Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self._source.release()
        if self._own_session:
            self.session.session.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _after_fork_in_child(self) -> None:
        """New connections in a forked child, on the session you gave (or oss2 made): its CA bundle (``verify``),
        headers, proxies, auth, cert, trust_env and mounted adapters stay as they were (proxy/fresh_connections.py)."""
        renew_connections(getattr(self.session, "session", None))
        self._call_depth = threading.local()


class ProxyBucket(_ManagedOssClient, oss2.Bucket):
    """Swap-in for ``oss2.Bucket(auth, endpoint, bucket_name, ...)``:
    ``ProxyBucket(secret_name, endpoint, bucket_name, ...)``."""

    def __init__(
        self,
        secret_name: Optional[str] = None,
        endpoint: Optional[str] = None,
        bucket_name: Optional[str] = None,
        *,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        auth_version: str = "v1",
        **kwargs: Any,
    ) -> None:
        check_secret_name(secret_name, "ProxyBucket")  # before the others: oss2.Bucket's (auth, ...) form
        if not endpoint or not bucket_name:
            raise ValueError("ProxyBucket needs endpoint= and bucket_name=")
        self._connect(
            lambda auth: oss2.Bucket.__init__(self, auth, endpoint, bucket_name, **kwargs),
            secret_name,
            credentials_provider,
            ak_expire_handler,
            auth_version,
            kwargs,
        )

    def __repr__(self) -> str:
        return f"ProxyBucket({self._source.describe()}, {self.endpoint!r}, {self.bucket_name!r})"


class ProxyService(_ManagedOssClient, oss2.Service):
    """Swap-in for ``oss2.Service(auth, endpoint, ...)`` (``list_buckets``): ``ProxyService(secret_name, endpoint)``."""

    def __init__(
        self,
        secret_name: Optional[str] = None,
        endpoint: Optional[str] = None,
        *,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        auth_version: str = "v1",
        **kwargs: Any,
    ) -> None:
        check_secret_name(secret_name, "ProxyService")
        if not endpoint:
            raise ValueError("ProxyService needs endpoint=")
        self._connect(
            lambda auth: oss2.Service.__init__(self, auth, endpoint, **kwargs),
            secret_name,
            credentials_provider,
            ak_expire_handler,
            auth_version,
            kwargs,
        )


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

    return call


def _wrap_public_methods(cls: type, base: type) -> None:
    for name in dir(base):
        attr = getattr(base, name)
        if not name.startswith("_") and callable(attr) and not isinstance(attr, type):
            setattr(cls, name, _masking(attr) if name in _NOT_REISSUED else _reissuing(attr))


_wrap_public_methods(ProxyBucket, oss2.Bucket)
_wrap_public_methods(ProxyService, oss2.Service)

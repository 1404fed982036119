"""ProxyBucket and ProxyService: oss2's Bucket and Service whose key comes from the provider layer and heals on
rotation.

oss2 signs through its own credentials-provider auth (ProviderAuth / ProviderAuthV4), which asks our adapter for
the current snapshot on every signing. Which calls are re-issued, and how: calls.py.
"""

import threading
from typing import Any, Callable, Dict, Optional

import oss2

from credentials import CredentialsError, CredentialsProvider

from .. import errors
from ..fresh_connections import renew_connections
from ..handlers import AKExpireHandler, OssAKExpireHandler
from ..reissue import Reissuer
from ..signing_key import SigningKeyAdapter
from ..source import KeySource, check_secret_name, reset_http_after_fork
from .calls import wrap_public_methods


class OssCredentialsAdapter(SigningKeyAdapter):
    """oss2's credentials-provider interface over ours (proxy/signing_key.py)."""

    def unavailable(self, cause: CredentialsError) -> BaseException:
        return errors.for_oss(cause)  # an oss2 ClientError, as the SDK's own client errors are


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
        """Where the key comes from: ``get_credentials()`` reads the whole current key (id, secret, token)."""
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
    """An ``oss2.Bucket`` whose key comes from KMS (or any provider) and heals on rotation.

    Swap-in for ``oss2.Bucket(auth, endpoint, bucket_name, ...)``::

        bucket = ProxyBucket("my-ram-secret", "https://oss-cn-hangzhou.aliyuncs.com", "my-bucket")
        bucket = ProxyBucket(credentials_provider=provider, endpoint=..., bucket_name=..., auth_version="v4",
                             region="cn-hangzhou")
        bucket.put_object("key", b"data"); bucket.get_object("key").read()
        bucket.shutdown()                                   # or: with ProxyBucket(...) as bucket:

    What heals: every public oss2.Bucket method that sends a request (put_object, get_object, upload_part,
    resumable_upload's parts, ...). When it fails with an error the ``ak_expire_handler`` judges to be a rotated
    or revoked key (``OssAKExpireHandler``: InvalidAccessKeyId, InvalidSecurityToken, SecurityTokenExpired,
    AccessKeyIdAndSecurityTokenNotMatch), the key is refreshed once for every thread that saw it and the same
    call is made again, signed anew, at most twice. A seekable body is rewound first (a multipart part is re-sent
    whole).

    What is not re-issued, and why: ``sign_url`` and ``sign_rtmp_url`` make no request; they sign, locally, with
    the key current at that moment, so a URL signed before a revocation fails when it is used, by design (sign a
    new one; after a heal the new key signs). ``get_object_with_url``, ``put_object_with_url`` and their
    ``_to_file`` / ``_from_file`` forms replay a URL signed earlier: sending the old signature again cannot
    succeed. A body that cannot be replayed (a consumed one-way stream, a generator) is not re-sent: the SDK's
    error is raised and the key is refreshed anyway. Any other error reaches the caller unchanged. When no key
    can be had, a call raises ``oss2.exceptions.ClientError``, which is also a ``credentials.CredentialsError``.
    Each method below is oss2's: ``help(oss2.Bucket.put_object)`` documents it.
    """

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
        """Exactly one of ``secret_name`` (a managed RAM credential in KMS Secrets Manager) and
        ``credentials_provider``; ``endpoint`` and ``bucket_name`` as for oss2.Bucket. ``auth_version``: "v1"
        (default), "v2" or "v4" (which needs ``region=``). ``ak_expire_handler``: which errors mean a rotated key
        (default ``OssAKExpireHandler()``). The other oss2.Bucket keywords (is_cname, session, connect_timeout,
        app_name, enable_crc, proxies, region, cloudbox_id) pass through; ``auth=`` does not apply."""
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
        """``ProxyBucket(secret 'name', endpoint, bucket)``: never a key."""
        return f"ProxyBucket({self._source.describe()}, {self.endpoint!r}, {self.bucket_name!r})"


class ProxyService(_ManagedOssClient, oss2.Service):
    """An ``oss2.Service`` (``list_buckets``, ...) whose key comes from KMS (or any provider) and heals on rotation.

    Swap-in for ``oss2.Service(auth, endpoint, ...)``: ``ProxyService("my-ram-secret", endpoint)`` or
    ``ProxyService(credentials_provider=provider, endpoint=endpoint)``.

    What heals: every public oss2.Service method, as ProxyBucket's (see there): after an error the
    ``ak_expire_handler`` judges to be a rotated or revoked key, the key is refreshed once and the call made
    again, at most twice. What does not heal: any other error, which reaches the caller unchanged.
    """

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
        """As ProxyBucket's, without ``bucket_name``: exactly one of ``secret_name`` and ``credentials_provider``,
        ``endpoint``, ``ak_expire_handler``, ``auth_version`` and oss2.Service's other keywords."""
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


wrap_public_methods(ProxyBucket, oss2.Bucket)
wrap_public_methods(ProxyService, oss2.Service)

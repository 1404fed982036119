"""OSS SDK V2's credentials-provider interface over ours: ManagedOssCredentialsProvider.

alibabacloud-oss-v2 calls ``Config.credentials_provider.get_credentials()`` on every attempt, just before signing,
and reads ``access_key_id``, ``access_key_secret``, ``security_token`` of what it gets. So a plain
``alibabacloud_oss_v2.Client`` built with this provider signs every request with the provider's current snapshot
(key id, secret and token of one version, never a torn pair) and picks up scheduled refreshes; re-issuing a request
that failed because the key was just revoked is ProxyOssClient's job (proxy/oss_v2/client.py).

On a warm cache ``get_credentials()`` only reads: no lock, no I/O, so calling it on an event loop (the async client
calls this same synchronous method) is safe. When the cache is cold or past its mandatory refresh time it would
wait for KMS; ProxyAsyncOssClient avoids that on the loop by warming the cache in a worker thread first
(``credentials_without_waiting()`` tells it when).
"""

import contextvars
import datetime
from typing import Any, NoReturn, Optional, Tuple

try:
    import alibabacloud_oss_v2  # noqa: F401 - the extra is optional: say how to get it
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "the OSS SDK V2 proxies need alibabacloud-oss-v2: pip install "
        "'managed-credentials-sdk-proxy[oss-v2]' (from a checkout: pip install -e '.[oss-v2]')"
    ) from exc
from alibabacloud_oss_v2.types import Credentials as OssCredentials
from alibabacloud_oss_v2.types import CredentialsProvider as OssCredentialsProviderBase

from credentials import CredentialsProvider
from credentials.model import Credentials, mask

from ..source import KeySource

# Which snapshot signed the latest request of this thread (sync) or task (asyncio), per provider object.
_SIGNED: "contextvars.ContextVar[Optional[Tuple[int, Credentials]]]" = contextvars.ContextVar(
    "managed_credentials_oss_v2_signed", default=None
)


class ManagedOssCredentials(OssCredentials):
    """The SDK's Credentials, built once per snapshot. Its repr and str never show the secret or the token."""

    def __repr__(self) -> str:
        token = ", security_token=****" if self.security_token else ""
        return f"ManagedOssCredentials(access_key_id={mask(self.access_key_id)!r}, access_key_secret=****{token})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("credentials are not picklable: pass a provider, not the key")


def to_oss_credentials(credentials: Credentials) -> ManagedOssCredentials:
    """Our snapshot as the SDK's Credentials; STS expiry (epoch seconds) as the aware UTC datetime it expects."""
    expiration = None
    if credentials.expiration is not None:
        expiration = datetime.datetime.fromtimestamp(credentials.expiration, tz=datetime.timezone.utc)
    return ManagedOssCredentials(
        credentials.access_key_id, credentials.access_key_secret, credentials.security_token, expiration
    )


class ManagedOssCredentialsProvider(OssCredentialsProviderBase):
    """``Config.credentials_provider`` for OSS SDK V2, backed by a managed secret or one of our providers.

        ManagedOssCredentialsProvider(secret_name="my-ram-secret")     # or ManagedOssCredentialsProvider("my-secret")
        ManagedOssCredentialsProvider(credentials_provider=provider)   # e.g. CredentialsToolProvider(config)

    Exactly one of the two (ValueError otherwise). ``shutdown()`` releases a shared secret provider.
    ``defer_in_event_loop=True`` (ProxyAsyncOssClient): constructed inside a running event loop, the secret's first
    fetch runs in a worker thread, awaited by ``first_fetch_async()``, instead of in the constructor.

    What it does: a plain ``alibabacloud_oss_v2.Client`` given it signs every attempt with one snapshot of the
    current key and picks up scheduled refreshes (ahead of rotation). What it does not, and why: a credentials
    provider never sees the response, so a call refused because the key was just revoked is not re-issued; use
    ProxyOssClient for that.
    """

    def __init__(
        self,
        secret_name: Optional[str] = None,
        *,
        credentials_provider: Optional[CredentialsProvider] = None,
        defer_in_event_loop: bool = False,
    ) -> None:
        """See the class: ``secret_name`` or ``credentials_provider``, and ``defer_in_event_loop``."""
        self._source = KeySource(secret_name, credentials_provider, defer_in_event_loop=defer_in_event_loop)
        self._converted: Optional[Tuple[Credentials, ManagedOssCredentials]] = None

    @property
    def credentials_provider(self) -> CredentialsProvider:
        """Our provider behind it (the one ``secret_name=`` acquired, or the one given)."""
        return self._source.provider

    def get_credentials(self) -> ManagedOssCredentials:
        """What the SDK signs with: the provider's current snapshot (converted once per snapshot, not per call)."""
        credentials = self._source.provider.get_credentials()
        _SIGNED.set((id(self), credentials))
        converted = self._converted
        if converted is None or converted[0] is not credentials:
            converted = self._converted = (credentials, to_oss_credentials(credentials))
        return converted[1]

    async def first_fetch_async(self) -> None:
        """Awaits the first fetch when it was deferred (see the class); at once otherwise."""
        await self._source.first_fetch_async()

    def credentials_without_waiting(self) -> Optional[Credentials]:
        """Our snapshot if ``get_credentials()`` would return it at once, None if it might wait for a fetch."""
        without_waiting = getattr(self._source.provider, "credentials_without_waiting", None)
        return without_waiting() if callable(without_waiting) else None

    def last_signed(self) -> Optional[Credentials]:
        """The snapshot handed out for this thread's (or asyncio task's) latest request."""
        signed = _SIGNED.get()
        return signed[1] if signed is not None and signed[0] == id(self) else None

    def shutdown(self) -> None:
        """Release this provider's hold on a shared secret provider. Idempotent."""
        self._source.release()

    def __enter__(self) -> "ManagedOssCredentialsProvider":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"ManagedOssCredentialsProvider({self._source.describe()})"

"""ManagedCredentialsClient: a credential object that ``alibabacloud_tea_openapi.models.Config(credential=...)``
accepts, so that any V2 product client signs with managed keys. tea-openapi calls its ``get_credential()``
(``get_credential_async()``) on every attempt, so every request is signed with the provider's current snapshot (key
id, secret and token of one version, never a torn pair); the snapshot handed out is remembered per thread or asyncio
task (``last_signed()``), for ProxyOpenApiClient's re-issue (proxy/openapi/client.py).
"""

import asyncio
import contextvars
import functools
import os
from typing import Any, Callable, NoReturn, Optional, Tuple

from alibabacloud_credentials.models import CredentialModel

from credentials import CredentialsError, CredentialsProvider
from credentials.model import Credentials, mask
from credentials.tool import tame_tool_logging

from .. import errors
from ..fresh_connections import renew_connections
from ..pinned_snapshot import PinnedFields
from ..source import KeySource
from ._compat import pooled_sessions

PROVIDER_NAME = "managed_credentials"  # sent by tea-openapi as x-acs-credentials-provider
_TOOL_FIELDS = frozenset({"access_key_id", "access_key_secret", "security_token"})  # one round of the getters

# Which snapshot signed the latest request of this thread (sync) or task (asyncio), per credential client.
_SIGNED: "contextvars.ContextVar[Optional[Tuple[int, Credentials]]]" = contextvars.ContextVar(
    "managed_credentials_signed", default=None
)

tame_tool_logging()  # tea-openapi imported the Credentials tool, which attached its handlers to logger "credentials"


class ManagedCredentialModel(CredentialModel):
    """What ``get_credential()`` returns: one snapshot. Its repr and str never show the secret or the token."""

    def __repr__(self) -> str:
        token = ", security_token=****" if self.security_token else ""
        return (
            f"ManagedCredentialModel(type={self.type!r}, access_key_id={mask(self.access_key_id)!r}, "
            f"access_key_secret=****{token})"
        )

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("credentials are not picklable: pass a provider, not the key")


def _model(credentials: Credentials) -> ManagedCredentialModel:
    return ManagedCredentialModel(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
        bearer_token=None,
        type="sts" if credentials.security_token else "access_key",
        provider_name=PROVIDER_NAME,
    )


class ManagedCredentialsClient:
    """A credential for ``Config(credential=...)`` of any V2 SDK, backed by a managed secret or a provider.

        ManagedCredentialsClient(secret_name="my-ram-secret")      # or ManagedCredentialsClient("my-ram-secret")
        ManagedCredentialsClient(credentials_provider=provider)

    Exactly one of the two (ValueError otherwise). ``shutdown()`` releases a shared secret provider. Constructed
    inside a running event loop (ProxyOpenApiClient's too), it does not wait for KMS: the secret's first fetch runs in
    a worker thread, awaited by the first ``get_credential_async()`` (a synchronous getter waits for it instead).

    It is accepted wherever the Credentials tool's ``Client`` is: tea-openapi asks it for one snapshot of the
    current key on every attempt, so a generated V2 client signs with the managed key and picks up refreshes. It
    does not re-issue a request refused because the key was just revoked (a credential never sees the response):
    ProxyOpenApiClient does.
    """

    def __init__(
        self, secret_name: Optional[str] = None, *, credentials_provider: Optional[CredentialsProvider] = None
    ):
        """Exactly one of ``secret_name`` (a managed RAM credential in KMS Secrets Manager) and
        ``credentials_provider`` (any ``credentials.CredentialsProvider``)."""
        self._source = KeySource(secret_name, credentials_provider, type(self).__name__, defer_in_event_loop=True)
        self._pinned = PinnedFields(_TOOL_FIELDS)

    @property
    def credentials_provider(self) -> CredentialsProvider:
        """Our provider behind it (the one ``secret_name=`` acquired, or the one given)."""
        return self._source.provider

    # --- what tea-openapi calls ----------------------------------------------------------------------------------
    # Without a key they raise tea's own client-side exception, which is a CredentialsError too (proxy/errors.py).
    def get_credential(self) -> ManagedCredentialModel:
        """The whole key, one snapshot (key id, secret and token of one version): what tea-openapi signs with, and
        the getter to use in your own code."""
        return _model(self._snapshot(self._credentials()))

    async def get_credential_async(self) -> ManagedCredentialModel:
        """``get_credential()`` without blocking the event loop."""
        return _model(self._snapshot(await self._credentials_async()))

    # The one-field getters the Credentials tool's Client has, which generated clients' ``*_advance`` methods (file
    # uploads) and older code call one after the other. A round of them (key id, secret, token, in any order, in one
    # thread or task, within 5 s) reads one snapshot even when a refresh lands in between (proxy/pinned_snapshot.py).
    def get_access_key_id(self) -> str:
        """The key id; with the ``get_access_key_secret()`` / ``get_security_token()`` calls that follow it in this
        thread, of one version of the key. The whole key at once: ``get_credential()``."""
        return self._pinned.read("access_key_id", self._credentials).access_key_id

    def get_access_key_secret(self) -> str:
        """The secret of the key ``get_access_key_id()`` returned in this thread (see there)."""
        return self._pinned.read("access_key_secret", self._credentials).access_key_secret

    def get_security_token(self) -> Optional[str]:
        """The token of the key ``get_access_key_id()`` returned in this thread (see there); None for an AccessKey."""
        return self._pinned.read("security_token", self._credentials).security_token

    async def get_access_key_id_async(self) -> str:
        """As ``get_access_key_id()``, per asyncio task."""
        return (await self._pinned.read_async("access_key_id", self._credentials_async)).access_key_id

    async def get_access_key_secret_async(self) -> str:
        """As ``get_access_key_secret()``, per asyncio task."""
        return (await self._pinned.read_async("access_key_secret", self._credentials_async)).access_key_secret

    async def get_security_token_async(self) -> Optional[str]:
        """As ``get_security_token()``, per asyncio task."""
        return (await self._pinned.read_async("security_token", self._credentials_async)).security_token

    def get_type(self) -> str:
        """``sts`` or ``access_key``: of the key the open round of getters reads, else of the current key."""
        return "sts" if self._pinned.peek(self._credentials).security_token else "access_key"

    def get_bearer_token(self) -> None:
        return None

    # --- ours -------------------------------------------------------------------------------------------------
    def _credentials(self) -> Credentials:
        try:
            return self._source.provider.get_credentials()
        except CredentialsError as exc:
            raise errors.for_tea(exc) from exc  # __cause__: the CredentialsError

    async def _credentials_async(self) -> Credentials:
        try:
            await self._source.first_fetch_async()  # at once unless a constructor on the loop left it to us
            return await _current(self._source.provider)
        except CredentialsError as exc:
            raise errors.for_tea(exc) from exc  # __cause__: the CredentialsError

    def _snapshot(self, credentials: Credentials) -> Credentials:
        _SIGNED.set((id(self), credentials))
        return credentials

    def last_signed(self) -> Optional[Credentials]:
        """The snapshot handed out for this thread's (or asyncio task's) latest request."""
        signed = _SIGNED.get()
        return signed[1] if signed is not None and signed[0] == id(self) else None

    def shutdown(self) -> None:
        """Release this client's hold on a shared secret provider. Idempotent."""
        self._source.release()

    def __enter__(self) -> "ManagedCredentialsClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"ManagedCredentialsClient({self._source.describe()})"


async def _current(provider: CredentialsProvider) -> Credentials:
    """The provider's credentials without blocking the event loop: at once on a warm cache, else from a worker
    thread (the call may wait for a fetch)."""
    without_waiting = getattr(provider, "credentials_without_waiting", None)
    credentials = without_waiting() if callable(without_waiting) else None
    return credentials if credentials is not None else await _in_thread(provider.get_credentials)


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run a provider call (it may wait for a fetch) without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args))


def _renew_tea_connections_after_fork() -> None:
    """Every tea-openapi client of the process shares darabonba's (and Tea's) pooled sessions: in a forked child
    they get new connections, keeping their settings, so that parent and child never read each other's answers.
    This covers ProxyOpenApiClient, and any V2 client signing with a ManagedCredentialsClient."""
    for session in pooled_sessions():
        renew_connections(session)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_tea_connections_after_fork)

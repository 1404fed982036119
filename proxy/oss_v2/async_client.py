"""ProxyAsyncOssClient: OSS SDK V2's asyncio client (alibabacloud_oss_v2.aio.AsyncClient) on managed keys.

The same rule as ProxyOssClient (client.py), on coroutines, and the event loop is never made to wait for KMS:

* Constructed inside a running event loop with ``secret_name=``, the client does not fetch the secret in its
  constructor (the synchronous clients do): the first fetch starts in a worker thread (the loop's default executor)
  and is awaited by ``async with`` or the first call. Constructed outside a loop, it fetches as ProxyOssClient does.
* The SDK calls the credentials provider synchronously, on the loop. On a warm cache that is a read. Before each
  call, when ``credentials_without_waiting()`` says the provider might have to fetch (a cold cache, or an STS key
  in its mandatory refresh window), the client awaits ``get_credentials()`` in a worker thread first, so the
  SDK's own call then finds the fresh key. A failed fetch is left for the SDK to report: the provider backs off
  after a failure, so the SDK's call raises at once (OperationError around CredentialsFetchError) without waiting.
* A re-issue's refresh runs in a worker thread too (Reissuer.call_async).

The async SDK has no uploader; its multipart calls (initiate, upload_part, complete) heal one by one.
"""

import asyncio
import functools
import logging
from typing import Any, Awaitable, Callable, Optional

# isort: off
from .provider import ManagedOssCredentialsProvider  # first: without the extra, says what to install
from .client import (
    ACTIVE,
    ManagedOssClientMixin,
    credentials_unavailable,
    public_request_methods,
    reissued_doc,
    request_body_rewinder,
)

# isort: on
from alibabacloud_oss_v2.aio import AsyncClient
from alibabacloud_oss_v2.config import Config
from alibabacloud_oss_v2.exceptions import OperationError

from credentials import CredentialsProvider

from ..handlers import AKExpireHandler
from ..source import reset_http_after_fork

logger = logging.getLogger("managed_credentials.proxy")


async def warm(provider: ManagedOssCredentialsProvider) -> None:
    """Make sure the SDK's synchronous ``get_credentials()`` will not wait: fetch in a worker thread if it might."""
    if provider.credentials_without_waiting() is not None:
        return
    try:
        await provider.first_fetch_async()  # deferred by a constructor run on the loop: one fetch for all callers
        if provider.credentials_without_waiting() is not None:
            return
        await asyncio.get_running_loop().run_in_executor(None, provider.credentials_provider.get_credentials)
    except Exception as exc:  # noqa: BLE001 - the SDK's own call reports it, in the SDK's error type
        logger.debug("fetching credentials before an OSS call failed (%s); the call reports it", type(exc).__name__)


def _reissuing_async(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(client: "ProxyAsyncOssClient", *args: Any, **kwargs: Any) -> Any:
        if ACTIVE.get() is client:
            return await method(client, *args, **kwargs)
        rewind = request_body_rewinder(args, kwargs)
        token = ACTIVE.set(client)
        try:
            await warm(client._managed)
            return await client._reissuer.call_async(lambda: method(client, *args, **kwargs), rewind)
        except OperationError as exc:
            typed = credentials_unavailable(exc)
            if typed is None:
                raise
            raise typed from typed.__cause__
        finally:
            ACTIVE.reset(token)

    call.__doc__ = reissued_doc(method)
    return call


class ProxyAsyncOssClient(ManagedOssClientMixin, AsyncClient):
    """An ``alibabacloud_oss_v2.aio.AsyncClient`` (OSS SDK V2, extra ``.[oss-v2]``) that signs with a managed key
    and heals on rotation::

        async with ProxyAsyncOssClient(config, secret_name="my-ram-secret") as client:
            await client.put_object(oss.PutObjectRequest(bucket="b", key="k", body=b"..."))

    What heals: every request coroutine, as ProxyOssClient's calls do (``ak_expire_handler``, at most two re-issues
    per call). What is not re-issued, and why: as ProxyOssClient (``presign()`` signs with the current key and sends
    nothing; a body that cannot be replayed is not re-sent). The SDK has no async
    uploader; the multipart calls heal one by one. The event loop never waits for KMS: a refresh runs in a worker
    thread. Each method below is the SDK's: ``help(alibabacloud_oss_v2.aio.AsyncClient.put_object)``.

    Constructed like ProxyOssClient, but inside a running event loop the constructor does not wait for KMS: the
    secret's first fetch runs in a worker thread and ``async with`` (or the first call) awaits it; ``async with``
    raises what ProxyOssClient's constructor would (an unknown secret, KMS access denied). ``await client.close()``
    (or leaving ``async with``) closes the SDK's connections and releases the key; ``shutdown()`` releases only the
    key.
    """

    _defer_in_event_loop = True

    def __init__(
        self,
        config: Config,
        secret_name: Optional[str] = None,
        *,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        **kwargs: Any,
    ) -> None:
        """As ProxyOssClient's (``config``, exactly one of ``secret_name`` / ``credentials_provider``,
        ``ak_expire_handler``); inside a running event loop the first fetch of ``secret_name`` is not awaited here."""
        managed = self._manage(config, secret_name, credentials_provider, ak_expire_handler)
        try:
            super().__init__(config, credentials_provider=managed, **kwargs)
        except BaseException:
            self.shutdown()
            raise
        reset_http_after_fork(self)

    async def __aenter__(self) -> "ProxyAsyncOssClient":
        try:
            await self._managed.first_fetch_async()
        except BaseException:
            await self.close()  # no __aexit__ follows a failed __aenter__
            raise
        return self

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self.shutdown()


_SKIP = frozenset({"close"})
for _name, _method in public_request_methods(AsyncClient):
    if _name not in _SKIP and asyncio.iscoroutinefunction(_method):
        setattr(ProxyAsyncOssClient, _name, _reissuing_async(_method))
del _name, _method

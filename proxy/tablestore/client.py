"""ProxyOTSClient: a tablestore OTSClient whose key comes from the provider layer and heals on rotation.

tablestore reads the key once per request and keeps that snapshot for the whole request: it signs with it, its
retry loop (DefaultRetryPolicy: throttling, server errors, read timeouts) re-sends the same signed bytes, and it
checks the signature of the service's answer with the same key. So a refreshed key is never picked up inside a
call. ProxyOTSClient re-issues around the whole request (the SDK's request hook, _compat.py): after an
expired-key error the request is built again, signed with the refreshed key, sent through the SDK's retry loop,
and its answer checked with the new key.

Which errors mean an expired key: OtsAKExpireHandler. Tablestore answers every authentication failure with 403
``OTSAuthFailed``, so the message decides: a deleted or disabled key, an expired (or another key's) STS token
heal; an unknown instance, a missing permission, clock skew and a signature mismatch reach the caller at once.

Threads: an OTSClient is safe to share between threads (urllib3's pool, one request context per call), and so is
ProxyOTSClient. AsyncOTSClient is not covered here.
"""

import logging
from typing import Any, Optional

from tablestore import OTSClient
from tablestore.connection import ConnectionPool
from urllib3.poolmanager import PoolManager

from credentials import CredentialsProvider
from credentials.masking import install_sdk_log_redaction, redact_exception

from ..handlers import AKExpireHandler, OtsAKExpireHandler
from ..reissue import Reissuer
from ..source import KeySource, refuse_key_arguments, reset_http_after_fork
from ._compat import service_error_in_record
from .key import OtsCredentialsAdapter

_KEY_ARGUMENTS = ("access_key_id", "access_key_secret", "sts_token")


class ProxyOTSClient(OTSClient):
    """Swap-in for ``OTSClient(end_point, access_key_id, access_key_secret, instance_name, sts_token=..., ...)``:
    ``ProxyOTSClient(end_point, instance_name="inst", secret_name="my-ram-secret")``, or ``credentials_provider=``
    a ``credentials.CredentialsProvider``. ``ak_expire_handler=`` decides which errors mean an expired key
    (default: ``OtsAKExpireHandler()``); every other keyword (``region=``, ``retry_policy=``, ``socket_timeout=``,
    ``logger_name=``, ...) is OTSClient's. ``shutdown()`` (or ``with``) releases the shared provider and closes the
    connections.

    What heals: every request (table, row, batch, search and SQL calls all go through the client's one request
    path), the whole call signed anew: an ``OTSAuthFailed`` whose message says the key does not exist, is disabled,
    or its STS token expired (``OtsAKExpireHandler``) refreshes the key once for every thread and re-issues the call,
    at most twice; the answer's signature is checked with the new key.

    What is not re-issued, and why: ``OTSAuthFailed`` for anything a new key does not fix (a wrong secret, an unknown
    instance, a missing permission, clock skew) and every other error reach the caller unchanged. When no key can be
    had, a call raises an ``OTSClientError`` that is also a ``credentials.CredentialsError``.
    """

    def __init__(
        self,
        end_point: str,
        *misplaced: Any,
        instance_name: Optional[str] = None,
        secret_name: Optional[str] = None,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        **kwargs: Any,
    ) -> None:
        """``end_point``: the instance's endpoint; ``instance_name``: the instance. Exactly one of ``secret_name`` (a
        managed RAM credential in KMS Secrets Manager) and ``credentials_provider`` (any
        ``credentials.CredentialsProvider``). ``ak_expire_handler``: which errors mean a rotated key (default
        ``OtsAKExpireHandler()``). Other keywords pass to OTSClient; its key arguments do not apply and are
        refused."""
        if misplaced:
            raise TypeError(
                "ProxyOTSClient takes (end_point, keywords...): OTSClient's (end_point, access_key_id, "
                "access_key_secret, instance_name) form does not apply, since the key comes from a managed "
                "secret. Write ProxyOTSClient(end_point, instance_name='my-instance', secret_name='my-ram-secret'), "
                "or credentials_provider=StaticCredentialsProvider(ak, secret) instead of secret_name="
            )
        refuse_key_arguments(kwargs, _KEY_ARGUMENTS, "ProxyOTSClient")
        self._source = KeySource(secret_name, credentials_provider, "ProxyOTSClient")
        self._shut_down = False
        try:
            self._adapter = OtsCredentialsAdapter(self._source.provider)
            self._reissuer = Reissuer(
                self._source.provider,
                ak_expire_handler or OtsAKExpireHandler(),
                self._adapter.last_signed,
                sdk="tablestore",
                record_error=self._service_error_in_record,
            )
            super().__init__(end_point, instance_name=instance_name, credentials_provider=self._adapter, **kwargs)
        except BaseException as exc:
            self._source.release()
            redact_exception(exc)
            raise
        install_sdk_log_redaction(extra=[self.logger.name])  # logger_name=: the application's own logger
        reset_http_after_fork(self)

    @property
    def managed_credentials_provider(self) -> CredentialsProvider:
        """Where the key comes from (``credentials_provider`` is the SDK-facing adapter OTSClient keeps)."""
        return self._source.provider

    def _service_error_in_record(self, record: logging.LogRecord) -> Optional[BaseException]:
        """The error a record of this client's logger reports: tablestore logs each refused request at ERROR, as
        text, before it raises (the Reissuer lowers the record of an attempt it re-issues to DEBUG)."""
        return service_error_in_record(record, self.logger.name)

    # The SDK's private request hooks (_compat.REQUEST_HOOKS; guarded by tests/test_compat.py): one request each,
    # from the caller's arguments to the decoded answer.
    def _request_helper(self, api_name: str, *args: Any, **kwargs: Any) -> Any:
        request = super()._request_helper
        return self._reissuer.call(lambda: request(api_name, *args, **kwargs))

    def _vectors_request_helper(self, api_name: str, request: Any) -> Any:
        send = super()._vectors_request_helper
        return self._reissuer.call(lambda: send(api_name, request))

    def shutdown(self) -> None:
        """Release this client's hold on the shared provider and close its connections. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self._source.release()
        self.connection.pool.clear()

    def __enter__(self) -> "ProxyOTSClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _after_fork_in_child(self) -> None:
        """New connections in a forked child, with the pool's settings (timeout, size, TLS, CA bundle, anything
        set on it by hand). The inherited sockets are dropped, never shut down: the parent's connections go on."""
        connection: Any = getattr(self, "connection", None)
        pool = getattr(connection, "pool", None)
        if isinstance(pool, PoolManager):
            connection.pool = PoolManager(ConnectionPool.NUM_POOLS, headers=pool.headers, **pool.connection_pool_kw)

    def __repr__(self) -> str:
        return f"ProxyOTSClient({self._source.describe()}, end_point={self.host!r})"

"""ProxyMnsAccount: an aliyun-mns-sdk Account whose key comes from the provider layer and heals on rotation.

The queues, topics and subscriptions it hands out (``get_queue``, ``get_topic``, ``get_subscription``) send through
its ManagedMnsClient (client.py): every request signs with the provider's current snapshot, and a request the
service refuses for a rotated, disabled or expired key (MnsAKExpireHandler) is signed anew and sent again.

No message is sent twice because of a re-issue: Message Service answers an authentication failure before it
accepts anything, and only such an answer is re-issued. A connection error, a timeout or any other error reaches
the caller as the plain SDK raises it, without a second attempt of ours (the SDK's own single re-send after a
``BadStatusLine`` on a stale keep-alive connection is unchanged).

Threads: as with the plain SDK, one Account is one HTTP connection (``http.client``), shared by every Queue, Topic
and Subscription it hands out, and not safe to use from two threads at once; ProxyMnsAccount changes nothing
there. Give each thread its own ProxyMnsAccount: accounts on one secret share its one provider (one
``GetSecretValue`` for all of them, one refresh after a rotation), so an account costs a connection, not a fetch.
"""

from typing import Any, Optional

from mns.account import Account

from credentials import CredentialsProvider
from credentials.masking import install_sdk_log_redaction, redact_exception

from ..handlers import AKExpireHandler, MnsAKExpireHandler
from ..reissue import Reissuer
from ..source import KeySource, refuse_key_arguments, reset_http_after_fork
from .client import ManagedMnsClient
from .key import MnsCredentialsAdapter

_KEY_ARGUMENTS = ("access_id", "access_key", "security_token")


class ProxyMnsAccount(Account):
    """Swap-in for ``mns.account.Account(host, access_id, access_key, security_token, ...)``:
    ``ProxyMnsAccount(host, "my-ram-secret")`` (or ``secret_name=``), or ``credentials_provider=`` a
    ``credentials.CredentialsProvider``. ``ak_expire_handler=`` decides which errors mean an expired key (default:
    ``MnsAKExpireHandler()``); ``debug=`` and ``logger=`` are Account's. One account per thread (module docstring).
    ``shutdown()`` (or ``with``) releases the shared provider and closes the connection.

    What heals: every request the account, and the queues, topics and subscriptions it hands out, send (send, batch
    send, receive, delete, change visibility, publish, create, delete, attributes, ...): they all go through the
    account's MNSClient, whose request methods run on the shared re-issue rule. A request refused for a rotated,
    disabled or expired key (``MnsAKExpireHandler``: InvalidAccessKeyId, SecurityTokenExpired,
    InvalidSecurityToken) is signed anew with the refreshed key and sent again, at most twice; the service refuses
    such a request before accepting anything, so a message is never sent twice.

    What is not re-issued, and why: any other error (SignatureDoesNotMatch, AccessDenied, a timeout after which the
    service may have stored the message) reaches the caller unchanged, as with the plain Account. When no key can be
    had, a call raises an ``MNSClientException`` that is also a ``credentials.CredentialsError``.
    """

    def __init__(
        self,
        host: str,
        secret_name: Optional[str] = None,
        *misplaced: Any,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        **kwargs: Any,
    ) -> None:
        """``host``: the account's endpoint (``http://<account id>.mns.<region>.aliyuncs.com``). Exactly one of
        ``secret_name`` (a managed RAM credential in KMS Secrets Manager) and ``credentials_provider`` (any
        ``credentials.CredentialsProvider``). ``ak_expire_handler``: which errors mean a rotated key (default
        ``MnsAKExpireHandler()``). Other keywords (``debug``, ``logger``) pass to Account; its key arguments do not
        apply and are refused."""
        if misplaced:
            raise TypeError(
                "ProxyMnsAccount takes (host, secret_name, keywords...): Account's (host, access_id, access_key, "
                "security_token) form does not apply, since the key comes from a managed secret. Write "
                "ProxyMnsAccount(host, 'my-ram-secret'), or ProxyMnsAccount(host, credentials_provider="
                "StaticCredentialsProvider(ak, secret)); Account's debug= and logger= are keywords"
            )
        refuse_key_arguments(kwargs, _KEY_ARGUMENTS, "ProxyMnsAccount")
        self._source = KeySource(secret_name, credentials_provider, "ProxyMnsAccount")
        self._shut_down = False
        try:
            self._adapter = MnsCredentialsAdapter(self._source.provider)
            self._reissuer = Reissuer(
                self._source.provider, ak_expire_handler or MnsAKExpireHandler(), self._adapter.last_signed, sdk="mns"
            )
            super().__init__(host, credentials_provider=self._adapter, **kwargs)
            self.mns_client = self._client_for(host)  # Account made a plain MNSClient: ours replaces it
        except BaseException as exc:
            self._source.release()
            redact_exception(exc)
            raise
        reset_http_after_fork(self)

    def _client_for(self, host: str) -> ManagedMnsClient:
        if self.logger is not None:  # the application's own logger: the SDK logs each request on it at DEBUG
            install_sdk_log_redaction(extra=[self.logger.name])
        return ManagedMnsClient(host, self._adapter, self._reissuer, logger=self.logger)

    @property
    def managed_credentials_provider(self) -> CredentialsProvider:
        """Where the key comes from (``credentials_provider`` is the SDK-facing adapter Account keeps, whose
        ``get_credentials()`` returns the key as aliyun-mns-sdk reads it)."""
        return self._source.provider

    def set_client(
        self,
        host: str,
        access_id: Optional[str] = None,
        access_key: Optional[str] = None,
        security_token: Optional[str] = None,
        credentials_provider: Any = None,
    ) -> None:
        """Point the account at another host (Account's ``set_client``), with the same managed key. A key given
        here is refused: the key is the account's secret or provider."""
        if access_id or access_key or security_token or credentials_provider is not None:
            raise ValueError(
                "ProxyMnsAccount.set_client(host) takes the host only: the key comes from the account's "
                "secret_name= or credentials_provider= (make another ProxyMnsAccount for another key)"
            )
        previous = self.mns_client
        self.mns_client = self._client_for(host)
        previous.close_connection()

    def shutdown(self) -> None:
        """Release this account's hold on the shared provider and close its connection. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self._source.release()
        self.mns_client.close_connection()

    def __enter__(self) -> "ProxyMnsAccount":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _after_fork_in_child(self) -> None:
        """A new connection in a forked child: the inherited socket is closed in the child only (its copy of the
        file descriptor; never shut down), so the parent's connection goes on; the next request connects again."""
        client = getattr(self, "mns_client", None)
        if client is not None:
            client.close_connection()

    def __repr__(self) -> str:
        return f"ProxyMnsAccount({self._source.describe()}, host={self.mns_client.host!r})"

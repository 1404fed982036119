"""ProxyLogClient: an aliyun-log-python-sdk LogClient whose key comes from the provider layer and heals on rotation.

    client = ProxyLogClient("cn-hangzhou.log.aliyuncs.com", "my-ram-secret")     # or credentials_provider=provider
    client.put_logs(PutLogsRequest(...))                                        # any LogClient method

Signing: LogClient takes a credentials provider of its own kind (``get_credentials()`` returning an object with
``get_access_key_id()``, ``get_access_key_secret()``, ``get_security_token()``) and calls it once per attempt,
inside its retry loop, just before signing (v1 and v4). SlsCredentialsAdapter hands it our provider's current
snapshot, which has those getters, so every attempt signs with one whole version of the key and a scheduled
refresh is picked up by the next request.

Healing: every public LogClient method builds its request and sends it through ``LogClient._send`` (the one private
hook, proxy/sls/_compat.py). ProxyLogClient overrides it: a request refused with an expired-key LogException
(SlsAKExpireHandler: ``Unauthorized``, ``InvalidAccessKeyId``, ``SecurityTokenExpired``, ...; not an ``Unauthorized``
that says it is a RAM policy denial) makes one single-flight refresh with the key that signed it and is sent again,
signed anew, at most twice (proxy.reissue.Reissuer). ``_send``'s arguments are the request itself (method, path,
query, headers it copies per attempt, and a body of bytes or str: PutLogs' compressed protobuf, a JSON document), so
sending it again sends the same bytes. The service refuses a bad key before it stores anything (the emulator does
the same: tests/test_emulator_sls.py), so a re-issued PutLogs stores its logs once.

The SDK's own refresh machinery is switched off, so that it cannot fight ours:

* ``set_credentials_auto_refresher(fn)`` raises ValueError (``None`` is accepted: that is the state we keep). On an
  auth error, the SDK would call ``fn()`` in the calling thread, sleep up to 300 s when the previous refresh was
  less than 5 minutes ago (and 30 s between failed attempts), then replace the client's signer with a fixed key
  built from ``fn()``'s answer: the managed key, and every later rotation, would be gone from the client.
* ``_is_auth_err`` (the SDK's broader test for auth errors, which also matches ``SecurityToken`` or ``Unauthorized``
  anywhere in a message) is consulted only when such a refresher is set: with none it never runs, and
  SlsAKExpireHandler alone decides.
"""

from typing import Any, Optional, cast

from aliyun.log.logclient import LogClient

from credentials import CredentialsError, CredentialsProvider

from .. import errors
from ..bodies import REPLAYABLE_VALUES, body_rewinder
from ..fresh_connections import renew_connections
from ..handlers import AKExpireHandler, SlsAKExpireHandler
from ..reissue import Reissuer
from ..signing_key import SigningKeyAdapter
from ..source import KeySource, refuse_key_arguments, reset_http_after_fork
from ._compat import sdk_send, sdk_session

_KEY_ARGUMENTS = ("accessKeyId", "accessKey", "securityToken")  # LogClient's own key parameters


class SlsCredentialsAdapter(SigningKeyAdapter):
    """LogClient's credentials-provider interface over ours (proxy/signing_key.py): its v1 and v4 signers call
    the getters our Credentials has."""

    def unavailable(self, cause: CredentialsError) -> BaseException:
        return errors.for_sls(cause)  # a LogException, as the SDK's own client errors are


def check_provider(credentials_provider: Any, client: str) -> None:
    """A TypeError naming what to pass when ``credentials_provider=`` is LogClient's kind of provider (it has
    ``get_credentials()`` but cannot be refreshed: aliyun.log.credentials.StaticCredentialsProvider)."""
    if credentials_provider is None or callable(getattr(credentials_provider, "refresh", None)):
        return
    raise TypeError(
        f"{client}: credentials_provider= takes a credentials.CredentialsProvider (get_credentials() and "
        f"refresh()), not {type(credentials_provider).__name__}; for a key you manage yourself write "
        "credentials_provider=credentials.StaticCredentialsProvider(access_key_id, access_key_secret)"
    )


class ProxyLogClient(LogClient):
    """Swap-in for ``LogClient(endpoint, accessKeyId, accessKey, ...)``: ``ProxyLogClient(endpoint, secret_name)``.

    ``secret_name`` (a KMS managed RAM credential, also the second positional argument) or ``credentials_provider``
    (a ``credentials.CredentialsProvider``): exactly one. ``ak_expire_handler`` decides which errors mean an expired
    key (default SlsAKExpireHandler). Every other LogClient keyword (``source``, ``auth_version``, ``region``)
    passes through. What it does differently from LogClient: the key is never stored on the client; a request
    refused for an expired key is re-issued after a refresh; ``set_credentials_auto_refresher`` is refused (see the
    module docstring); ``shutdown()`` (or ``with``) releases the shared secret and closes the connections.

    What heals: every method that talks to the service (put_logs, get_cursor, pull_logs, list_logstores, get_logs,
    ...: all requests go through LogClient's one send path), one request at a time: an Unauthorized,
    InvalidAccessKeyId or SecurityTokenExpired answer refreshes the key once for every thread and the same request,
    signed anew, is sent again, at most twice. PutLogs bodies are bytes: always re-sent whole.

    What is not re-issued, and why: an ``Unauthorized`` that says it is a RAM policy denial ("denied by sts or ram")
    and every other error reach the caller unchanged (a new key fixes none of them). When no key can be had, a call
    raises a ``LogException`` (code ``ManagedCredentials.Unavailable``) that is also a
    ``credentials.CredentialsError``.
    """

    def __init__(
        self,
        endpoint: str,
        secret_name: Optional[str] = None,
        *misplaced: Any,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        **kwargs: Any,
    ) -> None:
        """``endpoint``: the region's Log Service endpoint (``cn-hangzhou.log.aliyuncs.com``). Exactly one of
        ``secret_name`` (a managed RAM credential in KMS Secrets Manager) and ``credentials_provider`` (any
        ``credentials.CredentialsProvider``). ``ak_expire_handler``: which errors mean a rotated key (default
        ``SlsAKExpireHandler()``). Other keywords (``source``, ``auth_version``, ``region``) pass to LogClient; its
        key arguments do not apply and are refused."""
        if misplaced:
            raise TypeError(
                "ProxyLogClient takes (endpoint, secret_name, keywords...): LogClient's (endpoint, accessKeyId, "
                "accessKey, ...) form does not apply, since the key comes from a managed secret. Write "
                "ProxyLogClient('cn-hangzhou.log.aliyuncs.com', 'my-ram-secret'), or ProxyLogClient(endpoint, "
                "credentials_provider=StaticCredentialsProvider(ak, secret)); LogClient's other parameters "
                "(source, auth_version, region) are keywords"
            )
        refuse_key_arguments(kwargs, _KEY_ARGUMENTS, "ProxyLogClient")
        if not isinstance(endpoint, str) or not endpoint.strip():
            raise ValueError("ProxyLogClient needs the Log Service endpoint first, e.g. 'cn-hangzhou.log.aliyuncs.com'")
        check_provider(credentials_provider, "ProxyLogClient")
        self._key_source = KeySource(secret_name, credentials_provider, "ProxyLogClient")
        self._signing = SlsCredentialsAdapter(self._key_source.provider)
        try:
            LogClient.__init__(self, endpoint, credentials_provider=cast(Any, self._signing), **kwargs)
        except BaseException:
            self._key_source.release()
            raise
        self._proxy_endpoint = endpoint
        self._reissuer = Reissuer(
            self._key_source.provider,
            ak_expire_handler or SlsAKExpireHandler(),
            self._signing.last_signed,
            sdk="aliyun-log",
        )
        self._shut_down = False
        reset_http_after_fork(self)

    @property
    def credentials_provider(self) -> CredentialsProvider:
        return self._key_source.provider

    # Overrides the SDK's private hook every request goes through: see proxy/sls/_compat.SEND_HOOK (guarded by
    # tests/test_compat.py).
    def _send(
        self, method: str, project: str, body: Any, resource: str, params: Any, headers: Any, *args: Any, **kwargs: Any
    ) -> Any:
        rewind = None if not body or isinstance(body, REPLAYABLE_VALUES) else body_rewinder((body,))
        return self._reissuer.call(
            lambda: sdk_send(self, method, project, body, resource, params, headers, *args, **kwargs), rewind
        )

    def set_credentials_auto_refresher(self, refresher: Any) -> None:
        """Refused: ProxyLogClient refreshes its key itself (see the module docstring). ``None`` is accepted."""
        if refresher is None:
            return
        raise ValueError(
            "ProxyLogClient refreshes its key itself (secret_name= or credentials_provider=): remove the "
            "set_credentials_auto_refresher() call. The SDK's refresher would sleep up to 300 s in the calling "
            "thread and then sign with a fixed key; a source of keys of your own goes in credentials_provider="
        )

    def shutdown(self) -> None:
        """Release this client's hold on the shared provider and close its connections. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self._key_source.release()
        session = sdk_session(self)
        if session is not None:
            session.close()

    def __enter__(self) -> "ProxyLogClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _after_fork_in_child(self) -> None:
        """New connections in a forked child, on the same session (its settings stay)."""
        session = sdk_session(self)
        if session is not None:
            renew_connections(session)

    def __repr__(self) -> str:
        return f"ProxyLogClient({self._proxy_endpoint!r}, {self._key_source.describe()})"

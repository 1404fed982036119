"""ProxyAcsClient: an aliyunsdkcore AcsClient whose key comes from the provider layer and heals on rotation."""

from typing import Any, Optional, Tuple

from aliyunsdkcore.client import AcsClient

from credentials import CredentialsError, CredentialsProvider
from credentials.kms import ProviderSigner
from credentials.masking import ATTEMPT, redact_exception
from credentials.model import Credentials

from .. import errors
from ..fresh_connections import renew_connections
from ..handlers import AKExpireHandler, SdkCoreAKExpireHandler
from ..pinned_snapshot import PinnedFields
from ..reissue import Reissuer
from ..source import KeySource, check_region_id, refuse_key_arguments, reset_http_after_fork
from ._compat import (
    forget_key,
    install_endpoint_resolver,
    install_signer,
    sdk_init_without_endpoint_tables,
    server_exception_in_record,
)
from .endpoints import SharedTablesEndpointResolver

_ACS_FIELDS = frozenset({"access_key_id", "access_key_secret"})  # what get_access_key / get_access_secret read
_sdk_init = sdk_init_without_endpoint_tables()  # the SDK's constructor, minus the per-client endpoint tables


class ProxyAcsClient(AcsClient):
    """An aliyunsdkcore ``AcsClient`` whose key comes from KMS (or any provider) and heals on rotation.

    Swap-in for ``AcsClient(ak, secret, region_id, ...)``::

        client = ProxyAcsClient("my-ram-secret", region_id="cn-hangzhou")
        client = ProxyAcsClient(credentials_provider=provider, region_id="cn-hangzhou")
        body = client.do_action_with_exception(request)     # any AcsClient method
        client.shutdown()                                    # or: with ProxyAcsClient(...) as client:

    What heals: every call that goes through AcsClient's request loop (``do_action_with_exception``,
    ``do_action``, ``get_response``; RPC, ROA, CommonRequest, generated request classes). When it fails with an
    error the ``ak_expire_handler`` judges to be a rotated, disabled or expired key (``SdkCoreAKExpireHandler``:
    InvalidAccessKeyId.NotFound, InvalidAccessKeyId.Inactive, Forbidden.AccessKeyDisabled,
    InvalidSecurityToken.*), the key is refreshed once for every thread that saw it, the same request is signed
    anew and sent again, at most twice per call. Every attempt, aliyunsdkcore's own retries included, is signed
    with one snapshot of the current key.

    What does not heal, and why: any other error (a bad parameter, throttling, a timeout) reaches the caller
    unchanged, after aliyunsdkcore's own retries; a call made with a signer of its own is not ours to refresh;
    a call still refused after two refreshes raises aliyunsdkcore's own exception. When no key can be had (KMS
    unreachable before the first key), a call raises aliyunsdkcore's ``ClientException``, which is also a
    ``credentials.CredentialsError``. The AcsClient methods are the SDK's: ``help(AcsClient)``.
    """

    session = None  # AcsClient.__del__ reads it even when __init__ failed early

    def __init__(
        self,
        secret_name: Optional[str] = None,
        region_id: str = "cn-hangzhou",
        *misplaced: Any,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        pool_size: int = 10,
        **kwargs: Any,
    ) -> None:
        """Exactly one of ``secret_name`` (a managed RAM credential in KMS Secrets Manager: one shared provider
        per secret in the process, configured by the properties file) and ``credentials_provider`` (any
        ``credentials.CredentialsProvider``). ``region_id`` as for AcsClient. ``ak_expire_handler``: which errors
        mean a rotated key (default ``SdkCoreAKExpireHandler()``). Every other AcsClient keyword (auto_retry,
        max_retry_time, user_agent, port, connect_timeout, timeout, debug, verify, ...) passes through; AcsClient's
        key parameters (ak, secret, credential, ...) do not apply. Raises ValueError / TypeError saying what to
        write for a misplaced argument, ConfigError for a bad properties file.
        """
        if misplaced:
            raise TypeError(
                "ProxyAcsClient takes (secret_name, region_id, keywords...): AcsClient's (ak, secret, "
                "region_id, ...) form does not apply, since the key comes from a managed secret. Write "
                "ProxyAcsClient('my-ram-secret', region_id='cn-hangzhou'), or ProxyAcsClient("
                "credentials_provider=StaticCredentialsProvider(ak, secret), region_id=...); AcsClient's "
                "other parameters (auto_retry, max_retry_time, ...) are keywords"
            )
        refuse_key_arguments(kwargs, ("ak", "secret", "credential", "public_key_id", "private_key"), "ProxyAcsClient")
        check_region_id(region_id, "ProxyAcsClient")
        self._source = KeySource(secret_name, credentials_provider, "ProxyAcsClient")
        self._pinned = PinnedFields(_ACS_FIELDS)
        try:
            _sdk_init(self, ak="managed", secret="managed", region_id=region_id, pool_size=pool_size, **kwargs)
        except BaseException:
            self._source.release()
            raise
        forget_key(self)  # no key lives on the client object
        signer = ProviderSigner(self._source.provider)
        install_signer(self, signer)
        install_endpoint_resolver(self, SharedTablesEndpointResolver(self))
        self._reissuer = Reissuer(
            self._source.provider,
            ak_expire_handler or SdkCoreAKExpireHandler(),
            signer.last_signed,
            sdk="aliyunsdkcore",
            record_error=server_exception_in_record,  # the SDK logs each ServerException at ERROR, as text
        )
        self._shut_down = False
        reset_http_after_fork(self)

    @property
    def credentials_provider(self) -> CredentialsProvider:
        return self._source.provider

    def get_access_key(self) -> str:
        """The key id, for code written for AcsClient. Paired with ``get_access_secret()``: called one after the
        other in one thread (either order, within 5 s), the two return the same version of the key even when a
        refresh lands in between (proxy/pinned_snapshot.py). To read the whole key at once, which is always safe:
        ``client.credentials_provider.get_credentials()`` (key id, secret and token of one version)."""
        return self._pinned.read("access_key_id", self._credentials).access_key_id

    def get_access_secret(self) -> str:
        """The secret of the key ``get_access_key()`` returned in this thread (see there); the whole key at once:
        ``client.credentials_provider.get_credentials()``."""
        return self._pinned.read("access_key_secret", self._credentials).access_key_secret

    def _credentials(self) -> Credentials:
        try:
            return self._source.provider.get_credentials()
        except CredentialsError as exc:
            raise errors.for_acs(exc) from exc  # __cause__: the CredentialsError

    # Overrides the SDK's private hook around its request loop: see proxy/acs/_compat.DO_ACTION_HOOK (guarded
    # by tests/test_compat.py).
    def _implementation_of_do_action(self, request: Any, signer: Any = None) -> Tuple[Any, Any, Any, Any]:
        # While set, the SDK's ERROR record of a key this call re-issues for is lowered to DEBUG (a call given its
        # own signer is not re-issued: its records stay as they are).
        token = ATTEMPT.set(self._reissuer.judge_record if signer is None else None)
        try:
            result = super()._implementation_of_do_action(request, signer)
            error = result[3]
            if error is not None and signer is None and self._reissuer.is_expired_key_error(error):
                result = self._reissue(request, signer, result)
        except CredentialsError as exc:  # no key at all: a ClientException, as the SDK's own client errors are
            raise redact_exception(errors.for_acs(exc)) from exc  # __cause__: the CredentialsError
        except Exception as exc:  # a ClientException for a connection error holds the URL: token and signature
            redact_exception(exc)
            raise
        finally:
            ATTEMPT.reset(token)
        if result[3] is not None:
            redact_exception(result[3])  # the ServerException do_action_with_exception raises
        return result

    def _reissue(self, request: Any, signer: Any, result: Tuple[Any, Any, Any, Any]) -> Tuple[Any, Any, Any, Any]:
        """``result`` failed with an expired key: refresh, re-sign and re-send (the Reissuer's rule)."""
        error = result[3]
        last = [result]

        def attempt() -> Tuple[Any, Any, Any, Any]:
            outcome = super(ProxyAcsClient, self)._implementation_of_do_action(request, signer)
            last[0] = outcome
            if outcome[3] is not None:
                raise outcome[3]
            return outcome

        try:
            return self._reissuer.reissue(error, attempt)
        except Exception as exc:  # noqa: BLE001 - ServerExceptions travel back in the tuple, as in AcsClient
            if exc is last[0][3]:
                return last[0]
            raise

    def shutdown(self) -> None:
        """Release this client's hold on the shared provider and close its connections. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self._source.release()
        if self.session is not None:
            self.session.close()

    def __enter__(self) -> "ProxyAcsClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _after_fork_in_child(self) -> None:
        """New connections in a forked child; the session keeps its settings (pool size, anything set on it)."""
        if self.session is not None:
            renew_connections(self.session)

    def __repr__(self) -> str:
        return f"ProxyAcsClient({self._source.describe()}, region_id={self.get_region_id()!r})"

"""KMS GetSecretValue through aliyunsdkcore's request machinery (signing and HTTP), nothing hand-built.

We sign and send with the SDK but read the response ourselves: the SDK's
``do_action_with_exception`` logs whole response bodies at DEBUG level,
which would put the secret into the application's log.
"""
import json
import logging
import os
import threading
import weakref
from typing import Any, Dict, Optional, Sequence

import tenacity
from aliyunsdkcore.acs_exception.exceptions import ClientException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from ._acs_compat import make_http_response
from .acs_signer import ProviderSigner
from .config import KmsEndpoint
from .errors import CredentialsError
from .provider import CredentialsProvider

logger = logging.getLogger("managed_credentials.credentials")

KMS_API_VERSION = "2016-01-20"
# Errors worth another try: the service is unwell or busy, not the request wrong.
RETRYABLE_CODES = frozenset({"Throttling", "Throttling.User", "ServiceUnavailable", "ServiceUnavailableTemporary",
                             "InternalFailure", "InternalError", "Rejected.Throttling"})


class KmsRequestError(CredentialsError):
    """A GetSecretValue that failed; ``retryable`` says whether another try (or another endpoint) may help."""

    def __init__(self, message: str, *, secret_name: str, code: Optional[str], status: Optional[int],
                 retryable: bool):
        super().__init__(message, secret_name=secret_name, code=code)
        self.status = status
        self.retryable = retryable


def is_transient_kms_error(exc: BaseException) -> bool:
    """Connection errors, 5xx and throttling: retried with backoff; everything else is final."""
    return isinstance(exc, KmsRequestError) and exc.retryable


def transient_retrying(attempts: int, wait: Optional[tenacity.wait.wait_base], what: str) -> tenacity.Retrying:
    """How every GetSecretValue (KMS or a dedicated instance) retries: transient errors only, bounded, with
    exponential backoff and full jitter."""
    def log_retry(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.debug("%s GetSecretValue attempt %d/%d failed (%s); retrying", what, state.attempt_number, attempts,
                     exc)

    return tenacity.Retrying(retry=tenacity.retry_if_exception(is_transient_kms_error),
                             stop=tenacity.stop_after_attempt(attempts),
                             wait=wait or tenacity.wait_random_exponential(multiplier=0.2, max=3.0),
                             before_sleep=log_retry, reraise=True)


class KmsClient:
    """Fetches secret values from the first healthy endpoint, retrying transient failures with full jitter."""

    def __init__(self, endpoints: Sequence[KmsEndpoint], access: CredentialsProvider, *,
                 connect_timeout: float = 3.0, read_timeout: float = 6.0, attempts: int = 4,
                 wait: Optional[tenacity.wait.wait_base] = None, verify: Any = None):
        if not endpoints:
            raise ValueError("KmsClient needs at least one endpoint")
        self.endpoints = tuple(endpoints)
        self.access = access
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._signer = ProviderSigner(access)
        self._verify = verify
        self._preferred = 0
        self._client: Optional[AcsClient] = None  # one SDK client (its HTTP pool is thread-safe) per process
        self._client_lock = threading.Lock()
        _live.add(self)
        self._retrying = transient_retrying(attempts, wait, "KMS")

    def get_secret_value(self, secret_name: str) -> Dict[str, Any]:
        """The parsed GetSecretValue response (with FetchExtendedConfig), or a KmsRequestError."""
        return self._retrying(self._get_from_any_endpoint, secret_name)

    def _get_from_any_endpoint(self, secret_name: str) -> Dict[str, Any]:
        count = len(self.endpoints)
        start = self._preferred
        last: Optional[KmsRequestError] = None
        for i in range(count):
            index = (start + i) % count
            try:
                result = self._get_once(self.endpoints[index], secret_name)
            except KmsRequestError as exc:
                if not exc.retryable:
                    raise
                last = exc
                continue
            self._preferred = index
            return result
        assert last is not None
        raise last

    def describe_source(self) -> str:
        """Where the last successful fetch came from (for ``managed-credentials check``)."""
        return f"KMS {self.endpoints[self._preferred].url}"

    def _sdk_client(self) -> AcsClient:
        """Built at the first fetch and shared by every thread: a refresh made by whichever thread saw the
        expired key reuses the pooled connection to KMS instead of paying for a new client and handshake."""
        client = self._client
        if client is None:
            with self._client_lock:
                client = self._client
                if client is None:
                    client = self._client = AcsClient(ak="unused", secret="unused",
                                                      region_id=self.endpoints[0].region_id, auto_retry=False,
                                                      verify=self._verify)
        return client

    def _get_once(self, endpoint: KmsEndpoint, secret_name: str) -> Dict[str, Any]:
        request = CommonRequest(domain=endpoint.host, version=KMS_API_VERSION, action_name="GetSecretValue")
        request.set_protocol_type(endpoint.protocol)
        request.set_method("POST")
        request.set_accept_format("JSON")
        request.add_query_param("SecretName", secret_name)
        request.add_query_param("FetchExtendedConfig", "true")
        client = self._sdk_client()
        try:
            response = make_http_response(client, endpoint.host, request, self._read_timeout,
                                          self._connect_timeout, self._signer)
            status, _headers, body = response.get_response_object()
        except (IOError, ClientException) as exc:
            raise KmsRequestError(f"cannot reach KMS at {endpoint.url}: {exc.__class__.__name__}",
                                  secret_name=secret_name, code="SDK.HttpError", status=None,
                                  retryable=True) from None
        return _parse_response(status, body, secret_name, endpoint)

    def after_fork_in_child(self) -> None:
        """Forget the parent's HTTP connections (sharing a socket with the parent crosses the answers) and lock."""
        self._client = None
        self._client_lock = threading.Lock()


def _parse_response(status: int, body: bytes, secret_name: str, endpoint: KmsEndpoint) -> Dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        document = None
    if 200 <= status < 300:
        if not isinstance(document, dict):
            raise KmsRequestError(f"KMS at {endpoint.url} returned a response that is not JSON",
                                  secret_name=secret_name, code="MalformedResponse", status=status, retryable=True)
        return document
    code = document.get("Code") if isinstance(document, dict) else None
    message = document.get("Message", "") if isinstance(document, dict) else ""
    retryable = status >= 500 or status == 429 or (code in RETRYABLE_CODES)
    detail = f": {message}" if message and code != "SignatureDoesNotMatch" else ""
    raise KmsRequestError(f"KMS at {endpoint.url} refused GetSecretValue with HTTP {status}{detail}",
                          secret_name=secret_name, code=code or f"HTTP{status}", status=status, retryable=retryable)


_live: "weakref.WeakSet[KmsClient]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_live):
        client.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

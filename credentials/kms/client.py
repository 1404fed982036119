"""KMS GetSecretValue through aliyunsdkcore's request machinery (signing and HTTP), nothing hand-built.

We sign and send with the SDK but read the response ourselves: the SDK's
``do_action_with_exception`` logs whole response bodies at DEBUG level,
which would put the secret into the application's log.
"""

import os
import ssl
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Union

from aliyunsdkcore.acs_exception.exceptions import ClientException
from aliyunsdkcore.auth.algorithm import sha_hmac1, sha_hmac256
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest

from ..config import ClientKey, KmsEndpoint
from ..json_limits import JsonRejected, loads_bounded
from ..masking import install_sdk_log_redaction, redact_exception
from ..provider import CredentialsProvider
from ..throttling import retry_after_seconds
from ._acs_compat import acs_client_without_endpoint_tables, make_http_response
from .errors import RETRYABLE_CODES, KmsRequestError, exception_chain
from .retrying import remaining, transient_retrying, until
from .signers import ClientKeySigner, ProviderSigner

if TYPE_CHECKING:
    import tenacity  # imported when a fetch fails (TransientRetrying): a process whose fetches succeed never loads it

KMS_API_VERSION = "2016-01-20"

# What signs this process's KMS requests: a provider's AccessKey or STS token (HMAC-SHA1), or a client key (RSA).
KmsAccess = Union[CredentialsProvider, ClientKey]


class KmsClient:
    """Fetches secret values from the first healthy endpoint, retrying transient failures with full jitter.

    ``verify`` is aliyunsdkcore's own TLS knob (None: ``$ALIBABA_CLOUD_CA_BUNDLE``, else the system's CAs); an
    endpoint with a ``ca_file`` (a KMS instance endpoint's caFilePath) is verified against that file instead.
    """

    def __init__(
        self,
        endpoints: Sequence[KmsEndpoint],
        access: KmsAccess,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 6.0,
        attempts: int = 4,
        wait: "Optional[tenacity.wait.wait_base]" = None,
        verify: Any = None,
    ):
        if not endpoints:
            raise ValueError("KmsClient needs at least one endpoint")
        self.endpoints = tuple(endpoints)
        self.access = access
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        if isinstance(access, ClientKey):  # the SDK's RSA algorithm (sha_hmac256 is SHA256withRSA) signs
            self._signer: Any = ClientKeySigner(access)
            self._algorithm: Any = sha_hmac256
        else:
            self._signer, self._algorithm = ProviderSigner(access), sha_hmac1
        self._verify = verify
        self._preferred = 0
        self._clients: Dict[Any, AcsClient] = {}  # one SDK client (its HTTP pool is thread-safe) per TLS trust
        self._client_lock = threading.Lock()
        _live.add(self)
        self._retrying = transient_retrying(attempts, wait, "KMS")
        install_sdk_log_redaction()  # aliyunsdkcore and its urllib3 log the requests to KMS at DEBUG

    def get_secret_value(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        """The parsed GetSecretValue response (with FetchExtendedConfig), or a KmsRequestError; with ``deadline``
        (time.monotonic()), connection, reads and retries all end by then."""
        return until(self._retrying, deadline)(self._get_from_any_endpoint, secret_name, deadline)

    def _get_from_any_endpoint(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        count = len(self.endpoints)
        start = self._preferred
        last: Optional[KmsRequestError] = None
        for i in range(count):
            index = (start + i) % count
            try:
                result = self._get_once(self.endpoints[index], secret_name, deadline)
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

    def _sdk_client(self, endpoint: KmsEndpoint) -> AcsClient:
        """Built at the first fetch and shared by every thread: a refresh made by whichever thread saw the
        expired key reuses the pooled connection to KMS instead of paying for a new client and handshake. One
        per TLS trust (``verify``): an instance endpoint with its own caFilePath gets its own."""
        verify = endpoint.ca_file or self._verify
        client = self._clients.get(verify)
        if client is None:
            with self._client_lock:
                client = self._clients.get(verify)
                if client is None:
                    client = self._clients[verify] = acs_client_without_endpoint_tables(
                        ak="unused",
                        secret="unused",
                        region_id=self.endpoints[0].region_id,
                        auto_retry=False,
                        verify=verify,
                    )
        return client

    def _request(self, endpoint: KmsEndpoint, secret_name: str) -> RpcRequest:
        """The GetSecretValue request, unsigned: the SDK's RpcRequest carrying the algorithm of our access."""
        request = RpcRequest("Kms", KMS_API_VERSION, "GetSecretValue", signer=self._algorithm)
        request.set_protocol_type(endpoint.protocol)
        request.set_method("POST")
        request.set_accept_format("JSON")
        request.add_query_param("SecretName", secret_name)
        request.add_query_param("FetchExtendedConfig", "true")
        return request

    def _get_once(self, endpoint: KmsEndpoint, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        request = self._request(endpoint, secret_name)
        client = self._sdk_client(endpoint)
        try:
            response = make_http_response(
                client,
                endpoint.host,
                request,
                remaining(deadline, self._read_timeout),
                remaining(deadline, self._connect_timeout),
                self._signer,
            )
            status, headers, body = response.get_response_object()
        except (IOError, ClientException) as exc:  # kept as __context__, masked: its text holds the URL's token
            raise _transport_error(redact_exception(exc), endpoint, secret_name) from None
        return _parse_response(status, body, secret_name, endpoint, headers)

    def after_fork_in_child(self) -> None:
        """Forget the parent's HTTP connections (sharing a socket with the parent crosses the answers) and lock."""
        self._clients = {}
        self._client_lock = threading.Lock()


def _transport_error(exc: BaseException, endpoint: KmsEndpoint, secret_name: str) -> KmsRequestError:
    """No answer. A certificate that does not verify against an endpoint's own caFilePath is a configuration
    mistake, named and final; anything else (refused, reset, timed out) may pass: another endpoint or try."""
    refused = next((c for c in exception_chain(exc) if isinstance(c, ssl.SSLCertVerificationError)), None)
    if refused is not None and endpoint.ca_file:
        return KmsRequestError(
            f"the TLS certificate of KMS at {endpoint.url} does not verify against caFilePath "
            f"{endpoint.ca_file} ({refused.verify_message or 'verification failed'}); set "
            "caFilePath (cache_client_region_id) to this instance's CA certificate",
            secret_name=secret_name,
            code="CertificateNotTrusted",
            status=None,
            retryable=False,
        )
    return KmsRequestError(
        f"cannot reach KMS at {endpoint.url}: {exc.__class__.__name__}",
        secret_name=secret_name,
        code="SDK.HttpError",
        status=None,
        retryable=True,
    )


def _parse_response(
    status: int, body: bytes, secret_name: str, endpoint: KmsEndpoint, headers: Optional[Dict[str, str]] = None
) -> Dict[str, Any]:
    try:
        document = loads_bounded(body)
        problem = "" if isinstance(document, dict) else "is not a JSON object"
    except JsonRejected as exc:  # never RecursionError: a nesting bomb is refused before it is parsed
        document, problem = None, str(exc)
    if 200 <= status < 300:
        if problem:
            raise KmsRequestError(
                f"KMS at {endpoint.url} returned an answer that cannot be read: it {problem}",
                secret_name=secret_name,
                code="MalformedResponse",
                status=status,
                retryable=True,
            )
        return document
    code = document.get("Code") if isinstance(document, dict) else None
    message = document.get("Message", "") if isinstance(document, dict) else ""
    retryable = status >= 500 or status == 429 or (code in RETRYABLE_CODES)
    detail = f": {message}" if message and code != "SignatureDoesNotMatch" else ""
    raise KmsRequestError(
        f"KMS at {endpoint.url} refused GetSecretValue with HTTP {status}{detail}",
        secret_name=secret_name,
        code=code or f"HTTP{status}",
        status=status,
        retryable=retryable,
        retry_after=retry_after_seconds(headers) if retryable else None,
    )


_live: "weakref.WeakSet[KmsClient]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_live):
        client.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

"""KMS GetSecretValue through aliyunsdkcore's request machinery (signing and HTTP), nothing hand-built.

We sign and send with the SDK but read the response ourselves: the SDK's
``do_action_with_exception`` logs whole response bodies at DEBUG level,
which would put the secret into the application's log.
"""

import logging
import os
import ssl
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Union, cast

from aliyunsdkcore.acs_exception.exceptions import ClientException
from aliyunsdkcore.auth.algorithm import sha_hmac1, sha_hmac256
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest

from ..config import ClientKey, KmsEndpoint
from ..errors import CredentialsError
from ..json_limits import JsonRejected, loads_bounded
from ..masking import install_sdk_log_redaction, redact_exception
from ..provider import CredentialsProvider
from ..throttling import is_throttling, retry_after_seconds
from ._acs_compat import acs_client_without_endpoint_tables, make_http_response
from .signers import ClientKeySigner, ProviderSigner

if TYPE_CHECKING:
    import tenacity  # imported when a fetch fails (TransientRetrying): a process whose fetches succeed never loads it

logger = logging.getLogger("managed_credentials.credentials")

KMS_API_VERSION = "2016-01-20"
# Errors worth another try: the service is unwell or busy, not the request wrong.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "Throttling.User",
        "ServiceUnavailable",
        "ServiceUnavailableTemporary",
        "InternalFailure",
        "InternalError",
        "Rejected.Throttling",
    }
)


class KmsRequestError(CredentialsError):
    """A GetSecretValue that failed; ``retryable`` says whether another try (or another endpoint) may help;
    ``retry_after``: the seconds the answer's Retry-After asked for (None: it had none)."""

    def __init__(
        self,
        message: str,
        *,
        secret_name: str,
        code: Optional[str],
        status: Optional[int],
        retryable: bool,
        retry_after: Optional[float] = None,
    ):
        super().__init__(message, secret_name=secret_name, code=code)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    @property
    def throttled(self) -> bool:
        """KMS refused the request for the rate (HTTP 429, Rejected.Throttling): the provider retries it after a
        growing window (credentials/throttling.py), never at once."""
        return is_throttling(self)


def is_transient_kms_error(exc: BaseException) -> bool:
    """Connection errors, 5xx and throttling: worth another try later; everything else is final."""
    return isinstance(exc, KmsRequestError) and exc.retryable


def is_retried_at_once(exc: BaseException) -> bool:
    """What a fetch retries within itself: connection errors and 5xx. A throttled answer is not: quick retries of
    every process of a fleet are what keeps KMS throttling; the provider tries again after its throttling window
    (credentials/throttling.py)."""
    return is_transient_kms_error(exc) and not is_throttling(exc)


def until(retrying: "TransientRetrying", deadline: Optional[float]) -> Callable[..., Any]:
    """``retrying``'s call that also stops at ``deadline`` (time.monotonic()) and never sleeps past it; each attempt
    caps its own timeouts with ``remaining(deadline)``, so the whole call ends at the deadline."""
    return lambda fn, *args: retrying.call(deadline, fn, *args)


def _with_deadline(retrying: "tenacity.Retrying", deadline: Optional[float]) -> "tenacity.Retrying":
    if deadline is None:
        return retrying
    import tenacity

    wait = retrying.wait
    stop = tenacity.stop_any(cast(tenacity.stop.stop_base, retrying.stop), cast(Any, _StopAt(deadline)))
    return retrying.copy(stop=stop, wait=lambda state: min(wait(state), remaining(deadline)))


class _StopAt:
    """No attempt starts at or after ``deadline`` (time.monotonic()), the wait before it included: an attempt that
    timed out at the deadline is the last one, not the first of several with a millisecond's timeouts each."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: "tenacity.RetryCallState") -> bool:
        upcoming = getattr(retry_state, "upcoming_sleep", 0.0) or 0.0
        return time.monotonic() + upcoming >= self.deadline


def remaining(deadline: Optional[float], cap: float = float("inf")) -> float:
    """Seconds left before ``deadline`` (never below a millisecond), at most ``cap``."""
    if deadline is None:
        return cap
    return min(cap, max(0.001, deadline - time.monotonic()))


class TransientRetrying:
    """How every GetSecretValue (KMS or a dedicated instance) retries within itself: connection errors and 5xx only
    (throttling is the provider's: credentials/throttling.py), bounded, with exponential backoff and full jitter
    (tenacity).

    The first attempt is a plain call: tenacity is imported (about 5 ms) and its Retrying built only when an attempt
    fails with a transient error, which it then receives as its own first attempt. So a process whose fetches
    succeed never loads it, and one whose fetches fail retries exactly as if tenacity had made every attempt."""

    def __init__(self, attempts: int, wait: "Optional[tenacity.wait.wait_base]", what: str) -> None:
        self.attempts = attempts
        self._wait = wait
        self._what = what
        self._tenacity: "Optional[tenacity.Retrying]" = None

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, retried, without a deadline."""
        return self.call(None, fn, *args)

    def call(self, deadline: Optional[float], fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except KmsRequestError as exc:
            if not is_retried_at_once(exc):
                raise
            first: KmsRequestError = exc
        replayed = [first]

        def attempt(*again: Any) -> Any:
            if replayed:
                raise replayed.pop()  # tenacity's first attempt is the one made above
            return fn(*again)

        return _with_deadline(self.retrying(), deadline)(attempt, *args)

    def retrying(self) -> "tenacity.Retrying":
        """The tenacity Retrying, built at first need (two threads building it at once build equal ones)."""
        built = self._tenacity
        if built is None:
            built = self._tenacity = _tenacity_retrying(self.attempts, self._wait, self._what)
        return built


def _tenacity_retrying(attempts: int, wait: "Optional[tenacity.wait.wait_base]", what: str) -> "tenacity.Retrying":
    import tenacity

    def log_retry(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.debug("%s GetSecretValue attempt %d/%d failed (%s); retrying", what, state.attempt_number, attempts, exc)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_retried_at_once),
        stop=tenacity.stop_after_attempt(attempts),
        wait=wait or tenacity.wait_random_exponential(multiplier=0.2, max=3.0),
        before_sleep=log_retry,
        reraise=True,
    )


def transient_retrying(attempts: int, wait: "Optional[tenacity.wait.wait_base]", what: str) -> TransientRetrying:
    """How every GetSecretValue (KMS or a dedicated instance) retries (TransientRetrying)."""
    return TransientRetrying(attempts, wait, what)


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


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """exc and everything it wraps: requests keeps urllib3's error as an argument, urllib3 the OSError or ssl error
    as ``reason`` or __context__ (shared KMS and the dedicated gateways read connection failures through it)."""
    seen: Set[int] = set()
    stack: List[object] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))


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

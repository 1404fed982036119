"""A GetSecretValue that failed (KmsRequestError), shared KMS's and the dedicated gateways' alike, and which failures
are worth another try."""

from typing import Iterator, List, Optional, Set

from ..errors import CredentialsError
from ..throttling import is_throttling

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

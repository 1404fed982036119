"""How every GetSecretValue (shared KMS or a dedicated instance) retries within itself, and ends by a deadline.

tenacity is imported when an attempt fails with a transient error (TransientRetrying): a process whose fetches
succeed never loads it.
"""

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, cast

from ..throttling import is_throttling
from .errors import KmsRequestError, is_transient_kms_error

if TYPE_CHECKING:
    import tenacity

logger = logging.getLogger("managed_credentials.credentials")


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

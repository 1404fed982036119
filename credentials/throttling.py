"""KMS is throttling: how a process backs off, so that a fleet heals near KMS's quota without a retry storm.

Shared KMS admits 450 GetSecretValue a second per account and region and answers the rest HTTP 429
``Rejected.Throttling``. After an emergency revocation every process of a fleet needs a new key at once, and N
processes need at least N / 450 seconds however they retry; how they retry decides how close to that they heal and
how many requests they send meanwhile (which is what keeps other applications of the account throttled).

A process knows only its own answers. So: a throttled answer is never retried at once (the KMS client's quick
retries are for connection errors and 5xx only: four quick attempts per round were a 4x storm); the provider tries
again after a wait whose window grows with the throttled answers it has had in a row: 2, 4, 8, 16, then 30 s, the
wait drawn in the upper half of the window ("equal jitter": [1, 2] s, [2, 4] s ... [15, 30] s), or later when KMS
says so (``Retry-After``). One request per window is the process's retry budget: a throttling episode of T seconds
costs it at most 5 + T / 15 requests. The first admitted answer ends the episode; a healed process sends nothing more
until its next scheduled refresh. The floor of each window is what keeps a fleet's tail short: with full jitter
([0, W]) a process that draws a short wait meets the same crowd again and doubles its window, and the last processes
of a 10,000-process fleet healed at 3 x N / Q instead of 1.3 x (benchmarks/fleet_revocation.py).

A call that meets a revoked key meanwhile waits for the refresh at most ``refresh_wait_seconds`` (default 10 s),
through these windows, and then raises the service's own error, noted "could not be refreshed: KMS is throttling
(Rejected.Throttling)"; the next call after the next window heals.
"""

import random
import time
from typing import Any, Mapping, Optional

THROTTLING_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "Rejected.Throttling"})
THROTTLE_BASE = 2.0  # seconds: the first window after a throttled answer
THROTTLE_CAP = 30.0  # seconds: the widest window (one request per 15 to 30 s in a long episode)
DEFAULT_REFRESH_WAIT = 10.0  # seconds a call that needs a new key waits for it (properties: refresh_wait_seconds)
MAX_RETRY_AFTER = 600.0  # a Retry-After beyond this is read as this


def is_throttling(exc: Optional[BaseException]) -> bool:
    """KMS (or a dedicated instance) refused the request for the rate, not for the request: HTTP 429 or a
    throttling code."""
    if exc is None:
        return False
    return getattr(exc, "status", None) == 429 or getattr(exc, "code", None) in THROTTLING_CODES


def throttle_delay(throttles: int, retry_after: Optional[float] = None, rand: Any = random) -> float:
    """Seconds until the next attempt after the ``throttles``-th throttled answer in a row: drawn in the upper half
    of a window of 2, 4, 8, 16, then 30 s, and never before ``retry_after``."""
    window = min(THROTTLE_CAP, THROTTLE_BASE * 2.0 ** min(max(throttles, 1) - 1, 30))
    delay = window * rand.uniform(0.5, 1.0)
    return max(delay, min(retry_after, MAX_RETRY_AFTER)) if retry_after else delay


def retry_after_seconds(headers: Optional[Mapping[str, str]], now: Optional[float] = None) -> Optional[float]:
    """The answer's ``Retry-After`` (seconds, or an HTTP date) as seconds from now; None when absent or unreadable.
    Shared KMS does not document one; a gateway in front of it, or a dedicated instance, may send it."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        import email.utils  # here, not at the top: the HTTP-date form is rare, and email costs ~8 ms to import

        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds < 0:  # nan, or a date already passed
        return 0.0 if seconds == seconds else None
    return min(seconds, MAX_RETRY_AFTER)

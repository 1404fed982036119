"""How a caller of RefreshingProvider (refreshing.py) that needs a new key waits for it: through KMS's throttling
windows (credentials/throttling.py says why) and another caller's fetch round, at most ``refresh_wait`` seconds, and
what it gets when the wait ends.
"""

import threading
import time
from typing import Callable, Optional

from .errors import CredentialsError
from .model import Credentials, _Slot
from .throttling import is_throttling


class _Waiting:
    """RefreshingProvider's waits for a fetch. The state read here is RefreshingProvider's (``_init_locks``)."""

    name: str
    _clock: Callable[[], float]
    _refresh_wait: float
    _slot: _Slot
    _last_error: Optional[CredentialsError]
    _not_before: float
    _rounds: int
    _round_done: threading.Condition

    def _wait_deadline(self, no_key: bool) -> float:
        """When a caller stops waiting for a key (time.monotonic()): ``refresh_wait`` seconds from now."""
        return time.monotonic() + self._refresh_wait

    def _throttle_wait(self, deadline: float) -> Optional[float]:
        """Seconds until the next fetch when the last one was throttled and that fetch is allowed before
        ``deadline``; None otherwise (no throttling, or a window that opens after the caller's bound)."""
        if not is_throttling(self._last_error):
            return None
        seconds = max(0.0, self._not_before - self._clock())
        return seconds if time.monotonic() + seconds < deadline else None

    def _sleep_for_round(self, rounds: int, seconds: Optional[float]) -> None:
        """Until the next throttling window opens, or until another caller has finished a round."""
        with self._round_done:
            if self._rounds == rounds and seconds:
                self._round_done.wait(seconds)

    def _gave_up_waiting(self, stale: Optional[Credentials]) -> Credentials:
        """A caller's bound passed while another caller's fetch was still running: the key held (the caller says
        the service rejected it; the Reissuer then says why, from last_error()), or the reason there is none."""
        current = self._slot.credentials
        if current is not None and (stale is None or current != stale or self._last_error is not None):
            return current
        if self._last_error is not None:
            raise self._last_error
        raise CredentialsError(
            f"a fetch from the source was still running after {self._refresh_wait:g} s (refresh_wait_seconds)",
            secret_name=self.name,
        )

    def _result_of_last_round(self) -> Credentials:
        slot = self._slot
        if slot.credentials is not None and self._clock() < slot.must_refresh_at:
            return slot.credentials
        if slot.credentials is not None and self._last_error is None:
            return slot.credentials
        raise self._last_error or CredentialsError("no credentials yet", secret_name=self.name)

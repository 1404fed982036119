"""GetSecretValue from dedicated KMS instance gateways: failover in the order configured, cooldown, retries.

Each instance is a DkmsGateway (gateway.py: the wire protocol, signed with the client key opened by
credentials/config/dedicated.py). tenacity retries transient failures here, as it does for shared KMS
(credentials/kms/retrying.py). An instance that fails with a connection error or a 5xx is put in a cooldown (a
TTLCache) and tried again only after it, or when every instance is in cooldown, so a dead gateway costs one failed
connection per cooldown, not one per fetch.
"""

import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

import cachetools

from ...config import DkmsInstance
from ..errors import KmsRequestError
from ..retrying import transient_retrying, until
from .gateway import DkmsGateway

if TYPE_CHECKING:
    import tenacity  # imported when a fetch fails (credentials/kms/retrying.py TransientRetrying)

logger = logging.getLogger("managed_credentials.credentials")


class DkmsClient:
    """Same interface as KmsClient: ``get_secret_value(name) -> dict`` shaped like KMS GetSecretValue JSON."""

    def __init__(
        self,
        instances: Sequence[DkmsInstance],
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 6.0,
        attempts: int = 4,
        wait: "Optional[tenacity.wait.wait_base]" = None,
        cooldown: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not instances:
            raise ValueError("DkmsClient needs at least one instance")
        self.instances = tuple(instances)
        self._gateways = [DkmsGateway(instance, timeouts=(connect_timeout, read_timeout)) for instance in instances]
        self._cooldown_seconds = cooldown
        self._lock = threading.Lock()
        self._cooling: "cachetools.TTLCache[int, bool]" = cachetools.TTLCache(  # index -> True
            maxsize=len(self.instances), ttl=cooldown, timer=clock
        )
        self._last = 0
        self.quiet_recovery = False  # True under a FallbackKmsClient, which says "answers again" itself
        _live.add(self)
        self._retrying = transient_retrying(attempts, wait, "dedicated KMS")

    def get_secret_value(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        """The secret's current value (with its extended config), or a KmsRequestError; with ``deadline``
        (time.monotonic()), connection, reads and retries all end by then."""
        return until(self._retrying, deadline)(self.get_from_any_instance, secret_name, deadline)

    def describe_source(self) -> str:
        """Where the last successful fetch came from (for ``managed-credentials check``)."""
        instance = self.instances[self._last]
        return f"dedicated KMS instance {instance.url} (region {instance.region_id})"

    def any_ready(self) -> bool:
        """Whether some instance is out of cooldown (the regions fallback skips the instances otherwise)."""
        with self._lock:
            return any(i not in self._cooling for i in range(len(self.instances)))

    def _order(self) -> List[int]:
        """Instances not in cooldown, in the order configured; then the ones in cooldown (better than nothing)."""
        with self._lock:
            cooling = {i for i in range(len(self.instances)) if i in self._cooling}
        ready = [i for i in range(len(self.instances)) if i not in cooling]
        return ready + sorted(cooling)

    def get_from_any_instance(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        """One pass over the instances, no retry: the first answer, a final error at once, or the last transient
        error when every instance failed."""
        failed: List[Tuple[int, KmsRequestError]] = []
        for index in self._order():
            try:
                result = self._gateways[index].get_secret_value(secret_name, deadline)
            except KmsRequestError as exc:
                if not exc.retryable:
                    raise
                failed.append((index, exc))
                continue
            with self._lock:
                recovered = self._cooling.pop(index, None) is not None
                self._last = index
            if recovered:
                logger.log(
                    logging.DEBUG if self.quiet_recovery else logging.INFO,
                    "dedicated KMS instance %s answers again",
                    self.instances[index].url,
                )
            self._cool_down(failed, warn=True)
            return result
        self._cool_down(failed, warn=False)  # the caller reports the outage (or falls back to the regions)
        raise failed[-1][1]

    def _cool_down(self, failed: List[Tuple[int, KmsRequestError]], warn: bool) -> None:
        """Put the instances that failed in cooldown; warn about the newly cooled ones when another answered."""
        for index, exc in failed:
            with self._lock:
                fresh = index not in self._cooling
                self._cooling[index] = True
            if fresh and warn:
                logger.warning("%s; trying the other instances first for the next %.0f s", exc, self._cooldown_seconds)

    def after_fork_in_child(self) -> None:
        """A new lock, and new HTTP sessions: a keep-alive socket shared with the parent crosses answers."""
        self._lock = threading.Lock()
        for gateway in self._gateways:
            gateway.after_fork_in_child()

    def __repr__(self) -> str:
        return f"DkmsClient({', '.join(instance.url for instance in self.instances)})"


_live: "weakref.WeakSet[DkmsClient]" = weakref.WeakSet()

if hasattr(os, "register_at_fork"):

    def _after_fork_in_child() -> None:
        for client in list(_live):
            client.after_fork_in_child()

    os.register_at_fork(after_in_child=_after_fork_in_child)

"""Which KMS client a configuration gets, and the fallback from dedicated instances to the regions' shared KMS.

With both ``cache_client_dkms_config_info`` and ``cache_client_region_id`` the instances are asked first; when
every instance fails (a connection error, a 5xx, throttling: what makes DkmsClient skip to the next instance),
the secret is fetched from the regions with the credentials of ``credentials_type``, as the older plugin does.
Instances in their cooldown are not asked, so an outage costs one failed connection per instance per cooldown,
and when the cooldown is over the instances are asked again: the first answer brings the fetches back to them.
One warning when falling back, one info line when the instances answer again. A final answer from an instance
(an unknown secret, a revoked client key, an untrusted certificate) is raised, not retried on the regions.
"""

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from ..config import KmsConfig
from ..provider import CredentialsProvider
from .client import KmsClient
from .errors import KmsRequestError
from .retrying import transient_retrying, until

if TYPE_CHECKING:
    import tenacity  # imported when a fetch fails (credentials/kms/retrying.py TransientRetrying)

logger = logging.getLogger("managed_credentials.credentials")


def build_kms_client(config: KmsConfig, access: Optional[CredentialsProvider] = None, attempts: int = 4) -> Any:
    """The client for this configuration: instances, regions, or instances falling back to the regions.
    ``access`` signs for shared KMS (made from credentials_type when None and regions are used)."""

    def regions(attempts: int) -> KmsClient:
        from .access import kms_access_provider

        return KmsClient(config.endpoints, access or kms_access_provider(config), attempts=attempts)

    if not config.dkms_instances:
        return regions(attempts)
    from ..config import DkmsInstance
    from .dedicated import DkmsClient

    instances = [i for i in config.dkms_instances if isinstance(i, DkmsInstance)]  # KmsConfig types them as object
    if not config.endpoints:
        return DkmsClient(instances, attempts=attempts)
    return FallbackKmsClient(DkmsClient(instances, attempts=1), regions(1), attempts=attempts)


class FallbackKmsClient:
    """Same interface as KmsClient: the instances first, the regions when every instance fails."""

    def __init__(
        self, instances: Any, regions: KmsClient, *, attempts: int = 4, wait: "Optional[tenacity.wait.wait_base]" = None
    ):
        self.instances = instances  # a DkmsClient; its own retries are not used (we retry both together)
        self.regions = regions  # a KmsClient made with attempts=1: one pass over the regions
        self.instances.quiet_recovery = True  # "answers again" is said once, here
        self._lock = threading.Lock()
        self._on_regions = False
        self._last: Union[Any, KmsClient] = instances
        self._retrying = transient_retrying(attempts, wait, "KMS (dedicated instances, then regions)")
        _live.add(self)

    def get_secret_value(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        """The secret's current value, from an instance if one answers, else from the regions; with ``deadline``
        (time.monotonic()), everything ends by then."""
        return until(self._retrying, deadline)(self._fetch_once, secret_name, deadline)

    def describe_source(self) -> str:
        """Where the last successful fetch came from (for ``managed-credentials check``)."""
        source = self._last.describe_source()
        return f"shared {source} (every dedicated KMS instance failed)" if self._last is self.regions else source

    def _fetch_once(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        failure = "every one is in its cooldown after failing"
        if self.instances.any_ready():
            try:
                result = self.instances.get_from_any_instance(secret_name, deadline)
            except KmsRequestError as exc:
                if not exc.retryable:
                    raise
                failure = str(exc)
            else:
                self._switch(on_regions=False, why="")
                return result
        result = self.regions.get_secret_value(secret_name, deadline)
        self._switch(on_regions=True, why=failure)
        return result

    def _switch(self, on_regions: bool, why: str) -> None:
        with self._lock:
            changed = self._on_regions != on_regions
            self._on_regions = on_regions
            self._last = self.regions if on_regions else self.instances
        if changed and on_regions:
            logger.warning(
                "every dedicated KMS instance failed (%s); fetching secrets from shared KMS (%s) until "
                "an instance answers again",
                why,
                ", ".join(e.url for e in self.regions.endpoints),
            )
        elif changed:
            logger.info(
                "%s answers again: fetching secrets from the dedicated KMS instances again, no longer from shared KMS",
                self.instances.describe_source(),
            )

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FallbackKmsClient({self.instances!r}, then {', '.join(e.url for e in self.regions.endpoints)})"


_live: "weakref.WeakSet[FallbackKmsClient]" = weakref.WeakSet()

if hasattr(os, "register_at_fork"):

    def _after_fork_in_child() -> None:
        for client in list(_live):
            client.after_fork_in_child()

    os.register_at_fork(after_in_child=_after_fork_in_child)

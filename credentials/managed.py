"""ManagedSecretProvider: the key held in a KMS managed RAM credential secret."""

import inspect
import logging
import time
from typing import Any, Callable, Dict, Optional

from .config import DEFAULT_STARTUP_TIMEOUT  # seconds: the longest a fetch of the first key takes, retries included
from .errors import CredentialsError
from .model import Fetched
from .refreshing import RefreshingProvider
from .secret import DEFAULT_REFRESH_INTERVAL, SecretValue, next_refresh_at, parse_secret_value
from .throttling import DEFAULT_REFRESH_WAIT

logger = logging.getLogger("managed_credentials.credentials")


class ManagedSecretProvider(RefreshingProvider):
    """Fetches the secret at construction, then ahead of each rotation; heals on ``refresh(stale=...)``.

    A secret that does not exist or that KMS will not give us fails here, at
    construction, with the KMS error code. A passing outage or malformed
    SecretData at construction only fails the first use if still unresolved.

    ``startup_timeout`` (seconds, default 10; properties key ``startup_timeout_seconds``) bounds every fetch made
    while there is no key yet, connection, reads and retries together: a constructor never waits longer. When it
    passes, the constructor logs one error and returns; calls then raise CredentialsError (in the SDK's own
    exception type, through the proxies) until a later fetch succeeds. None: no bound but the KMS client's own.
    While KMS is throttling, the constructor waits through the throttling windows (credentials/throttling.py)
    within the same bound.

    ``refresh_wait`` (seconds, default 10; properties key ``refresh_wait_seconds``) bounds how long a call whose key
    the service rejected waits for the new one while KMS is throttling (or while another caller's fetch is under
    way); then the call raises the service's error, noted "could not be refreshed: KMS is throttling
    (Rejected.Throttling)", and the next call after the next window heals. 0: a call never waits for a later attempt.
    """

    kind = "managed_secret"

    def __init__(
        self,
        secret_name: str,
        kms_client: Any = None,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        clock: Callable[[], float] = time.time,
        backoff_cap: float = 30.0,
        fetch_now: bool = True,
        background: bool = True,
        startup_timeout: Optional[float] = DEFAULT_STARTUP_TIMEOUT,
        refresh_wait: float = DEFAULT_REFRESH_WAIT,
    ) -> None:
        """``secret_name``: the KMS secret (a managed RAM credential, or a generic secret holding the same JSON).
        ``kms_client``: what fetches it (default: the process's client, built from the properties file).
        ``refresh_interval``: seconds between fetches when the secret names no next rotation (jittered).
        ``fetch_now``: fetch in the constructor (False: at the first ``get_credentials()``). ``startup_timeout``:
        see the class. Most programs get one shared instance per secret from ``credentials.get_secret_provider``
        instead of building one."""
        if not isinstance(secret_name, str) or not secret_name.strip():
            raise ValueError("secret_name must be a non-empty string")
        if startup_timeout is not None and not startup_timeout > 0:
            raise ValueError("startup_timeout must be a positive number of seconds (or None)")
        if isinstance(refresh_wait, bool) or not isinstance(refresh_wait, (int, float)) or not refresh_wait >= 0:
            raise ValueError("refresh_wait must be a number of seconds >= 0 (0: calls never wait for a later attempt)")
        super().__init__(
            name=secret_name, clock=clock, backoff_cap=backoff_cap, background=background, refresh_wait=refresh_wait
        )
        self.secret_name = secret_name
        if kms_client is None:
            from .default_kms import default_kms_client

            kms_client = default_kms_client()
        self._kms = kms_client
        self._refresh_interval = refresh_interval
        self._startup_timeout = startup_timeout
        self._kms_takes_deadline = _takes_deadline(kms_client)
        self.version_id: Optional[str] = None
        self.next_rotation: Optional[float] = None  # the NextRotationDate of the latest fetch (epoch seconds)
        self._passed_rotation: Optional[float] = None  # a NextRotationDate the latest fetch found already passed
        if fetch_now:
            self._initial_fetch()

    def _initial_fetch(self) -> None:
        started = time.monotonic()
        try:
            self.get_credentials()  # not refresh(): a key another caller fetched meanwhile is not fetched again
        except CredentialsError as exc:
            from .kms import KmsRequestError

            if isinstance(exc, KmsRequestError) and not exc.retryable:
                raise  # unknown secret, access denied: the configuration must change
            elapsed = time.monotonic() - started
            timeout = self._startup_timeout
            waited = (
                f" after {elapsed:.1f} s (the start-up timeout, startup_timeout_seconds={timeout:g})"
                if timeout is not None and self._kms_takes_deadline and elapsed >= timeout - 0.05
                else ""
            )
            logger.error(
                "%s; no key yet%s: calls fail until a fetch succeeds (tried again at a call, after a backoff)",
                exc,
                waited,
            )

    def _fetch(self) -> Fetched:
        document = self._get_secret_value()
        value = parse_secret_value(document, self.secret_name)
        self.version_id, self.next_rotation = value.version_id, value.next_rotation
        logger.debug("%s: fetched version %s", self.secret_name, value.version_id)
        return Fetched(value.credentials, self._next_refresh_at(value))

    def _next_refresh_at(self, value: SecretValue) -> float:
        """When to fetch again; a NextRotationDate that is still passed at the fetch after the one that found it
        passed is stale (KMS kept an old date), so only the periodic refresh applies (secret.next_refresh_at)."""
        now = self._clock()
        rotation = value.next_rotation
        seen_passed = rotation is not None and rotation == self._passed_rotation
        self._passed_rotation = rotation if rotation is not None and rotation <= now else None
        return next_refresh_at(value, now, self._refresh_interval, seen_passed=seen_passed)

    def _get_secret_value(self) -> Dict[str, Any]:
        """GetSecretValue; while there is no key yet, bounded by the start-up timeout (every caller is waiting),
        counted from when the waiting caller began (it may have waited through throttling windows)."""
        if self._startup_timeout is None or not self._kms_takes_deadline or self._slot.credentials is not None:
            return self._kms.get_secret_value(self.secret_name)
        deadline = time.monotonic() + self._startup_timeout
        if self._fetch_deadline is not None:
            deadline = min(deadline, self._fetch_deadline)
        return self._kms.get_secret_value(self.secret_name, deadline=deadline)

    def _wait_deadline(self, no_key: bool) -> float:
        """Without a key, a caller waits (through throttling windows too) at most the start-up timeout."""
        if no_key and self._startup_timeout is not None:
            return time.monotonic() + self._startup_timeout
        return super()._wait_deadline(no_key)

    def status(self) -> Dict[str, Any]:
        """RefreshingProvider's, with ``version`` (the VersionId of the secret value the key came from) and
        ``next_rotation_at`` (KMS's NextRotationDate, epoch seconds, when it gives one)."""
        fields = super().status()
        held = fields["access_key_id"] is not None
        fields["version"] = self.version_id if held else None
        fields["next_rotation_at"] = self.next_rotation if held else None
        return fields

    def __repr__(self) -> str:
        return f"ManagedSecretProvider({self.secret_name!r})"


def _takes_deadline(kms_client: Any) -> bool:
    """Whether the client's get_secret_value() takes ``deadline=`` (ours do; a test's fake may not)."""
    try:
        return "deadline" in inspect.signature(kms_client.get_secret_value).parameters
    except (AttributeError, TypeError, ValueError):
        return False

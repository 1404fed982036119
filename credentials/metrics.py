"""OpenTelemetry metrics, when the application has ``opentelemetry-api`` (extra ``.[otel]``).

Meter ``managed_credentials``:

* counter ``managed_credentials.fetches``: every fetch of a key from its source; attributes ``secret`` (the
  provider's name) and ``outcome`` = ``ok`` / ``failed`` / ``throttled``;
* counter ``managed_credentials.reissues``: every call a proxy re-issued because the service rejected its key;
  attributes ``sdk`` and ``outcome`` = ``healed`` / ``failed`` / ``not_replayable``;
* histogram ``managed_credentials.fetch.duration`` (seconds, attribute ``secret``);
* observable gauge ``managed_credentials.key_age`` (seconds since the key in use was first fetched; attribute
  ``secret``), read from the live providers when the application's reader collects.

The API records nothing until the application installs an SDK (a MeterProvider); the meter is taken from the global
one (``opentelemetry.metrics.set_meter_provider``), or from the one given to ``use_meter_provider()``.

Cost: nothing is imported and nothing is recorded on a call's success path. The instruments are made at the first
fetch or re-issue: without ``opentelemetry-api`` that first time looks for the package once (and finds nothing),
and every later fetch checks one module global.
"""

import os
import threading
import time
from typing import Any, Iterable, List, Optional

METER_NAME = "managed_credentials"

_lock = threading.Lock()
_resolved = False  # the instruments were made (or opentelemetry-api was found missing)
_instruments: Optional["_Instruments"] = None
_meter_provider: Any = None  # use_meter_provider(); None: the global one


class _Instruments:
    def __init__(self, meter: Any) -> None:
        self.fetches = meter.create_counter(
            "managed_credentials.fetches", unit="{fetch}", description="fetches of a key from its source, by outcome"
        )
        self.reissues = meter.create_counter(
            "managed_credentials.reissues",
            unit="{call}",
            description="calls re-issued after the service rejected their key, by outcome",
        )
        self.fetch_duration = meter.create_histogram(
            "managed_credentials.fetch.duration", unit="s", description="how long a fetch of a key took"
        )
        self.key_age = meter.create_observable_gauge(
            "managed_credentials.key_age",
            callbacks=[_observe_key_age],
            unit="s",
            description="seconds since the key in use was first fetched",
        )


def _observe_key_age(options: Any) -> Iterable[Any]:
    from opentelemetry.metrics import Observation

    from .stats import live_providers

    now = time.time()
    observations: List[Any] = []
    for provider in live_providers():
        since = provider._stats.key_fetched_at
        if since is not None:
            name = str(getattr(provider, "name", None) or type(provider).__name__)
            observations.append(Observation(max(0.0, now - since), {"secret": name}))
    return observations


def _get() -> Optional[_Instruments]:
    if _resolved:
        return _instruments
    return _make()


def _make() -> Optional[_Instruments]:
    global _resolved, _instruments
    with _lock:
        if not _resolved:
            try:
                from opentelemetry import metrics
            except ImportError:
                _instruments = None
            else:
                provider = _meter_provider or metrics.get_meter_provider()
                _instruments = _Instruments(provider.get_meter(METER_NAME))
            _resolved = True
        return _instruments


def use_meter_provider(meter_provider: Any) -> None:
    """Record on ``meter_provider`` (an ``opentelemetry.sdk.metrics.MeterProvider``) instead of the global one;
    None: the global one again. The instruments are made anew at the next fetch or re-issue."""
    global _resolved, _instruments, _meter_provider
    with _lock:
        _meter_provider = meter_provider
        _instruments = None
        _resolved = False


def record_fetch(name: str, outcome: str, seconds: float) -> None:
    """One fetch of ``name``'s key: ``outcome`` ok / failed / throttled, and how long it took."""
    instruments = _get()
    if instruments is not None:
        attributes = {"secret": name}
        instruments.fetch_duration.record(seconds, attributes)
        instruments.fetches.add(1, {"secret": name, "outcome": outcome})


def record_reissue(sdk: str, outcome: str) -> None:
    """One call re-issued (``healed``), given up (``failed``) or not re-sent (``not_replayable``)."""
    instruments = _get()
    if instruments is not None:
        instruments.reissues.add(1, {"sdk": sdk, "outcome": outcome})


def _reset_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)

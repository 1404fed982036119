"""The per-process registry: one provider per secret name, one KMS client per configuration (default_kms.py).

This is the library's only global state (documented): every ProxyAcsClient or
ProxyBucket on the same secret shares one provider and so one cache, one fetch
per rotation. Clients hold a reference count; the last to shut down closes it.

No lock is held across network I/O. The registry's lock (``default_kms.lock``) guards only the table; a secret's
first fetch runs outside it, once, by whoever needs it first, and the other clients of that secret wait for that
fetch alone (its entry's condition). So building or releasing a client on a cached secret never waits for another
secret's fetch, and two clients of the same new secret still share one fetch.
"""

import atexit
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Dict, List, Optional

from . import default_kms
from .default_kms import default_config, default_kms_client
from .errors import ConfigError, CredentialsError

if TYPE_CHECKING:
    from .managed import ManagedSecretProvider

logger = logging.getLogger("managed_credentials.credentials")

_NEW, _RUNNING, _DONE = "new", "running", "done"


class _Entry:
    """One secret's shared provider, how many clients hold it, and its first fetch (run once, outside the
    registry's lock, by whoever needs it first; the others wait on this entry's condition)."""

    def __init__(self, secret_name: str, provider: "ManagedSecretProvider") -> None:
        self.secret_name = secret_name
        self.provider = provider
        self.holders = 0  # guarded by default_kms.lock
        self.error: Optional[Exception] = None  # what the first fetch raised (an unknown secret, access denied)
        self._reset_fetch_state()
        _live_entries.add(self)  # every entry, also one already dropped from the table that a Hold still waits on

    def _reset_fetch_state(self) -> None:
        self._cond = threading.Condition()
        self._state = _NEW

    @property
    def fetched(self) -> bool:
        """The first fetch has been made (successful or not): ``first_fetch()`` returns or raises at once."""
        return self._state == _DONE

    def first_fetch(self) -> None:
        """Make the first fetch, or wait for the one running; raise what a constructor raises (an outage is logged
        by the provider and not raised: calls fail until a fetch succeeds)."""
        with self._cond:
            while self._state == _RUNNING:
                self._cond.wait()
            claimed = self._state == _NEW
            if claimed:
                self._state = _RUNNING
            error = self.error
        if not claimed:
            if error is not None:
                raise error
            return
        state = _NEW  # interrupted (KeyboardInterrupt...): the next caller makes the fetch
        try:
            self.provider._initial_fetch()
            state = _DONE
        except Exception as exc:
            self.error, state = exc, _DONE
            _forget(self)  # the next constructor tries again (the secret may have been created meanwhile)
            raise
        finally:
            with self._cond:
                self._state = state
                self._cond.notify_all()

    def _after_fork_in_child(self) -> None:
        """A fresh condition; a fetch running in the parent has no thread in the child: the child's next caller
        makes it again."""
        state = self._state
        self._reset_fetch_state()
        self._state = _NEW if state == _RUNNING else state


class Hold:
    """A client's hold on a secret's shared provider; ``release()`` (idempotent) lets the last holder close it."""

    def __init__(self, entry: _Entry) -> None:
        self._entry = entry
        self.provider: "ManagedSecretProvider" = entry.provider
        self._released = False

    @property
    def fetched(self) -> bool:
        """``wait()`` would return (or raise) at once."""
        return self._entry.fetched

    def wait(self) -> None:
        """Until the secret's first fetch is made (made here when nobody has begun it): blocks for KMS."""
        if not self._entry.fetched:
            _preload_configured_secrets()
        self._entry.first_fetch()

    def release(self) -> None:
        with default_kms.lock:
            if self._released:
                return
            self._released = True
            last = _drop_one(self._entry)
        if last:
            self._entry.provider.close()  # a first fetch still running finishes into a provider nobody uses


_providers: Dict[str, _Entry] = {}
_live_entries: "weakref.WeakSet[_Entry]" = weakref.WeakSet()
_preloaded = False


def _check_name(secret_name: str) -> None:
    if not isinstance(secret_name, str) or not secret_name.strip():
        raise ConfigError("the secret name is empty", key="secret_name")


def _entry_for(secret_name: str) -> _Entry:
    """The secret's entry, made when missing or closed; under ``default_kms.lock``. No I/O: nothing is fetched."""
    entry = _providers.get(secret_name)
    if entry is None or entry.provider.closed:
        from .managed import ManagedSecretProvider

        provider = ManagedSecretProvider(
            secret_name,
            default_kms_client(),
            startup_timeout=default_config().startup_timeout,
            refresh_wait=default_config().refresh_wait,
            fetch_now=False,
        )
        entry = _providers[secret_name] = _Entry(secret_name, provider)
    return entry


def _drop_one(entry: _Entry) -> bool:
    """One holder fewer, under ``default_kms.lock``; True when it was the last (the caller closes the provider)."""
    entry.holders -= 1
    if entry.holders > 0:
        return False
    entry.holders = 0
    if _providers.get(entry.secret_name) is entry:
        del _providers[entry.secret_name]
    return True


def _forget(entry: _Entry) -> None:
    """A first fetch failed for good: later constructors make a new provider; this one closes with its last holder."""
    with default_kms.lock:
        if _providers.get(entry.secret_name) is entry:
            del _providers[entry.secret_name]
        unheld = entry.holders == 0
    if unheld:
        entry.provider.close()


def get_secret_provider(secret_name: str) -> "ManagedSecretProvider":
    """The one shared provider for this managed secret in this process, configured from the properties file."""
    _check_name(secret_name)
    entry = _providers.get(secret_name)
    if entry is not None and entry.fetched and not entry.provider.closed:
        return entry.provider
    while True:
        _preload_configured_secrets()
        with default_kms.lock:
            entry = _entry_for(secret_name)
        entry.first_fetch()
        if not entry.provider.closed:  # else released or reset while it fetched: take the new one
            return entry.provider


def hold(secret_name: str, *, wait: bool = True) -> Hold:
    """A client's hold on the shared provider of ``secret_name``. ``wait=True``: returns once the first fetch is made
    (raising what it raised); ``wait=False``: at once, and ``Hold.wait()`` makes or awaits the first fetch."""
    _check_name(secret_name)
    while True:
        with default_kms.lock:
            entry = _entry_for(secret_name)
            entry.holders += 1
        held = Hold(entry)
        if not wait:
            return held
        try:
            held.wait()
        except BaseException:
            held.release()
            raise
        if not entry.provider.closed:
            return held
        held.release()  # reset() (another properties file) while it fetched: hold the new one


def acquire(secret_name: str) -> "ManagedSecretProvider":
    """A hold on the shared provider, released by ``release(secret_name)`` (the clients use ``hold()``)."""
    return hold(secret_name).provider


def release(secret_name: str) -> None:
    with default_kms.lock:
        entry = _providers.get(secret_name)
        if entry is None or not _drop_one(entry):
            return
    entry.provider.close()


def _preload_configured_secrets() -> None:
    """``secret_names`` in the properties file are fetched at first use of the registry (outside its lock: a
    client of another secret does not wait for them)."""
    global _preloaded
    if _preloaded:
        return
    with default_kms.lock:
        if _preloaded:
            return
        entries = [_entry_for(name) for name in default_config().secret_names]
        _preloaded = True
    for entry in entries:
        try:
            entry.first_fetch()
        except CredentialsError as exc:
            logger.error("secret_names: %s", exc)


def reset() -> None:
    """Forget every provider and the configuration (tests, or after ConfigLoader.set_config_name())."""
    global _preloaded
    with default_kms.lock:
        entries = list(_providers.values())
        _providers.clear()
        default_kms.reset()
        _preloaded = False
    for entry in entries:
        entry.provider.close()


def _entries() -> List[_Entry]:
    return list(_providers.values())


def _close_all() -> None:
    for entry in _entries():
        entry.provider.close()


def _after_fork_in_child() -> None:
    for entry in list(_live_entries):
        entry._after_fork_in_child()


atexit.register(_close_all)
default_kms.on_new_config(reset)  # providers built on the old properties file go with it
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

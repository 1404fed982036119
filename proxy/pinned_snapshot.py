"""One snapshot for the legacy getters that hand out a key one field at a time.

AcsClient's ``get_access_key()`` / ``get_access_secret()`` and the Credentials tool's ``get_access_key_id()`` /
``get_access_key_secret()`` / ``get_security_token()`` each return one field. Generated V2 clients' ``*_advance``
methods (before tea-openapi 0.3's ``get_credential()``) and older application code call them one after the other to
build another client. Read from the provider call by call, a refresh landing between two of them hands out the key
id of one version and the secret of the next: a torn pair, which never signs.

``PinnedFields`` makes such a sequence read one snapshot. The first getter of a *round* reads the provider's current
snapshot and pins it for this thread (or asyncio task); the round's other fields come from the pinned snapshot. The
round ends when each field has been read once, or PIN_SECONDS after it began, whichever comes first; a field read a
second time starts a new round on the current snapshot. So ``key = c.get_access_key(); secret =
c.get_access_secret()`` (in either order, id / secret / token in any order) always match, while a thread that reads
only the key id, call after call, always sees the current one.

The pin lives in a context variable (one per thread and per asyncio task), never on the client: no secret in an
attribute, a repr or a pickle. It refers to the same immutable Credentials the provider caches, and is dropped when
its round completes or, at the latest, at the thread's next read after PIN_SECONDS. Safe without any of this:
``get_credential()`` (tea) and ``get_credentials()`` (the provider), which return one whole snapshot.
"""

import contextvars
import time
from typing import Awaitable, Callable, FrozenSet, NamedTuple, Optional, Tuple

from credentials.model import Credentials

PIN_SECONDS = 5.0  # a round longer than this reads the current snapshot again
_MAX_PINS = 4  # rounds open at once in one thread (several clients read in turn)
_clock = time.monotonic


class _Pin(NamedTuple):
    owner: "PinnedFields"
    snapshot: Credentials
    unread: FrozenSet[str]
    until: float


_PINS: "contextvars.ContextVar[Tuple[_Pin, ...]]" = contextvars.ContextVar("managed_credentials_pinned", default=())


class PinnedFields:
    """The rounds of one client's getters. ``fields``: the Credentials attributes one round reads."""

    __slots__ = ("_fields",)

    def __init__(self, fields: FrozenSet[str]) -> None:
        self._fields = fields

    def read(self, field: str, current: Callable[[], Credentials]) -> Credentials:
        """The snapshot to read ``field`` from: this round's, or ``current()`` pinned for a new round."""
        pinned, others = self._take(field)
        if pinned is not None:
            return pinned
        return self._pin(field, current(), others)

    async def read_async(self, field: str, current: Callable[[], Awaitable[Credentials]]) -> Credentials:
        pinned, others = self._take(field)
        if pinned is not None:
            return pinned
        return self._pin(field, await current(), others)

    def peek(self, current: Callable[[], Credentials]) -> Credentials:
        """The open round's snapshot (without reading a field of it), else ``current()``: for get_type()."""
        now = _clock()
        for pin in _PINS.get():
            if pin.owner is self and now < pin.until:
                return pin.snapshot
        return current()

    def _take(self, field: str) -> Tuple[Optional[Credentials], Tuple[_Pin, ...]]:
        """This round's snapshot when ``field`` is still unread in it (marking it read), and the other open rounds."""
        pins = _PINS.get()
        now = _clock()
        others = tuple(pin for pin in pins if pin.owner is not self and now < pin.until)
        for pin in pins:
            if pin.owner is self and field in pin.unread and now < pin.until:
                unread = pin.unread - {field}
                _PINS.set(others + (pin._replace(unread=unread),) if unread else others)
                return pin.snapshot, others
        return None, others

    def _pin(self, field: str, snapshot: Credentials, others: Tuple[_Pin, ...]) -> Credentials:
        unread = self._fields - {field}
        kept = others[-(_MAX_PINS - 1) :]
        _PINS.set(kept + (_Pin(self, snapshot, unread, _clock() + PIN_SECONDS),) if unread else kept)
        return snapshot

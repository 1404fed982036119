"""The immutable values: the credentials every provider hands out, and the records a provider caches them in."""

from dataclasses import dataclass, field
from typing import Any, NoReturn, Optional, Tuple


def mask(access_key_id: Optional[str]) -> str:
    """Show an access key id the way consoles do (``LTAI****abcd``): enough to tell keys apart, not to use one."""
    if not access_key_id:
        return "<none>"
    if len(access_key_id) <= 8:
        return access_key_id[:2] + "****"
    return f"{access_key_id[:4]}****{access_key_id[-4:]}"


@dataclass(frozen=True)
class Credentials:
    """One version of a key: id, secret and token always travel together, so a request is never signed with a torn pair.

    ``expiration`` is epoch seconds, or None for a key that does not expire by
    itself (a managed RAM AccessKey lives until it is rotated).
    """

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)
    expiration: Optional[float] = None

    def __repr__(self) -> str:
        token = ", security_token=****" if self.security_token else ""
        exp = f", expiration={self.expiration:.0f}" if self.expiration is not None else ""
        return f"Credentials(access_key_id={mask(self.access_key_id)!r}, access_key_secret=****{token}{exp})"

    __str__ = __repr__

    # oss2's credentials interface, so oss2.ProviderAuth can sign with this object as it is.
    def get_access_key_id(self) -> str:
        """oss2's getter: ``access_key_id``."""
        return self.access_key_id

    def get_access_key_secret(self) -> str:
        """oss2's getter: ``access_key_secret``."""
        return self.access_key_secret

    def get_security_token(self) -> Optional[str]:
        """oss2's getter: ``security_token``."""
        return self.security_token

    def __reduce__(self) -> NoReturn:  # pickling a secret into a queue or a cache file is almost always a leak
        raise TypeError("Credentials are not picklable: pass a provider, not the key")


Credentials.__init__.__doc__ = "The key id and secret, the STS token (or None) and its expiry (epoch seconds, or None)."


class _Frozen:
    """A small immutable record. Plain ``__slots__`` classes rather than frozen dataclasses: each dataclass costs
    about a millisecond of import time, and these are read on every call."""

    __slots__: Tuple[str, ...] = ()

    def __init__(self, *values: Any) -> None:
        for name, value in zip(self.__slots__, values):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Fetched(_Frozen):
    """What a source returned: the key, and when it should be fetched again (epoch seconds)."""

    __slots__ = ("credentials", "refresh_at")
    credentials: Credentials
    refresh_at: float

    def __init__(self, credentials: Credentials, refresh_at: float) -> None:
        super().__init__(credentials, refresh_at)


class _Slot(_Frozen):
    """The cached state, replaced whole so a reader never sees half an update."""

    __slots__ = ("credentials", "refresh_at", "must_refresh_at")
    credentials: Optional[Credentials]
    refresh_at: float  # advisory: from here on, one background thread refreshes
    must_refresh_at: float  # mandatory: from here on, callers wait for a fresh key

    def __init__(self, credentials: Optional[Credentials], refresh_at: float, must_refresh_at: float) -> None:
        super().__init__(credentials, refresh_at, must_refresh_at)


_EMPTY = _Slot(None, 0.0, 0.0)

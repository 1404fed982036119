"""The immutable credentials value that every provider hands out."""
from dataclasses import dataclass, field
from typing import Optional


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
        return self.access_key_id

    def get_access_key_secret(self) -> str:
        return self.access_key_secret

    def get_security_token(self) -> Optional[str]:
        return self.security_token

    def __reduce__(self):  # pickling a secret into a queue or a cache file is almost always a leak
        raise TypeError("Credentials are not picklable: pass a provider, not the key")

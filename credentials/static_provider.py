"""StaticCredentialsProvider: a fixed key behind the provider contract (``credentials_type=ak``, a key you manage
yourself, or a test): nothing to refresh, nothing to wait for."""

from typing import Optional

from .model import Credentials, mask
from .provider import CredentialsProvider


class StaticCredentialsProvider(CredentialsProvider):
    """A fixed key (``credentials_type=ak``, or a test): nothing to refresh. ``name``: how ``status()`` names it
    (default: ``static key LTAI****abcd``)."""

    kind = "static"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        security_token: Optional[str] = None,
        expiration: Optional[float] = None,
        *,
        name: Optional[str] = None,
    ):
        """The key (``security_token`` for an STS key; ``expiration`` in epoch seconds, informational)."""
        self._credentials = Credentials(access_key_id, access_key_secret, security_token, expiration)
        self.name = name or f"static key {mask(access_key_id)}"

    @classmethod
    def of(cls, credentials: Credentials) -> "StaticCredentialsProvider":
        """A provider that always hands out ``credentials``."""
        return cls(
            credentials.access_key_id, credentials.access_key_secret, credentials.security_token, credentials.expiration
        )

    def get_credentials(self) -> Credentials:
        return self._credentials

    def refresh(self, stale: Optional[Credentials] = None) -> Credentials:
        return self._credentials

    def credentials_without_waiting(self) -> Optional[Credentials]:
        return self._credentials

    def __repr__(self) -> str:
        return f"StaticCredentialsProvider({self._credentials!r})"

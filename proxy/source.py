"""Where a proxy client's key comes from: a managed secret (shared registry) or a given provider."""
import os
import weakref
from typing import Any, Optional, Tuple

from credentials import CredentialsProvider, registry


class KeySource:
    """A client's hold on its provider; ``release()`` (idempotent) lets the registry close a shared one."""

    def __init__(self, secret_name: Optional[str], credentials_provider: Optional[CredentialsProvider]) -> None:
        if (secret_name is None) == (credentials_provider is None):
            raise ValueError("give exactly one of secret_name= (a KMS managed RAM credential) or "
                             "credentials_provider= (a credentials.CredentialsProvider)")
        if credentials_provider is not None:
            if not callable(getattr(credentials_provider, "get_credentials", None)):
                raise ValueError("credentials_provider must have get_credentials() (a credentials.CredentialsProvider)")
            self.provider = credentials_provider
        else:
            if not isinstance(secret_name, str) or not secret_name.strip():
                raise ValueError("secret_name must be a non-empty string")
            self.provider = registry.acquire(secret_name)
        self.secret_name = secret_name
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        if self.secret_name is not None:
            registry.release(self.secret_name)

    def describe(self) -> str:
        return f"secret {self.secret_name!r}" if self.secret_name else repr(self.provider)


_forkable: "weakref.WeakSet[Any]" = weakref.WeakSet()


def reset_http_after_fork(client: Any) -> None:
    """Register a client whose ``_after_fork_in_child()`` gives it fresh HTTP connections in a forked child."""
    _forkable.add(client)


def _after_fork_in_child() -> None:
    for client in list(_forkable):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def key_pair(provider: CredentialsProvider) -> Tuple[str, str]:
    creds = provider.get_credentials()
    return creds.access_key_id, creds.access_key_secret

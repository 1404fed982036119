"""A provider object of the Credentials tool that the application built itself: ``CredentialsToolProvider(provider=)``.

Any object of the tool with a synchronous ``get_credentials()`` (``alibabacloud_credentials.provider``:
CLIProfile, Profile, CloudSSO, OAuth, External process (tool 1.0.9 and later), RsaKeyPair, RamRoleArn, ...), or
an ``alibabacloud_credentials.client.Client`` (its ``get_credential()``). What we do with it, and why:

* One call per fetch, and every field (id, secret, token, expiration) is read from the one object that call
  returned, never by asking again per field (the Client's deprecated ``get_access_key_id()`` /
  ``get_access_key_secret()`` each ask the provider anew: across a renewal they give a torn pair).
* We cannot build a new instance per fetch (``config=`` does, since the tool has no public force-refresh): every
  fetch, a forced ``refresh(stale=)`` included, asks the same object, which goes back to its source only when its
  own cache says so (an External process without ``expiration``: every time; the STS-based ones: 15 minutes
  before expiry; an External process with one: 3 minutes before). A key revoked while the object still caches it
  comes back from the refresh: the proxies then raise the service's error, saying that the source still holds
  that key, and RefreshingProvider backs off before asking again.
* CLIProfile, Profile, the tool's default provider and Client pass on no expiration (the tool drops it from what
  they return). A key without a token and without an expiration is cached until ``refresh(stale=)``. A security
  token without an expiration is asked for again every :data:`TOKEN_RECHECK_SECONDS` (in the background; the
  object answers from its cache, renewing ahead of expiry itself), so its renewals reach the clients before the
  old token expires, instead of after a rejected request.
* Synchronous only: ``get_credentials_async()`` is not used (our providers are synchronous; the asyncio proxies
  run a fetch in a worker thread).
"""

import inspect
import sys
from typing import Any, Optional

from ..errors import ConfigError, CredentialsError
from ..model import Credentials
from ..provider import CredentialsProvider
from .sources import _Source

#: How often a security token that came without an expiration is asked for again, in seconds.
TOKEN_RECHECK_SECONDS = 60.0

_EXAMPLES = (
    "a provider of alibabacloud_credentials.provider (e.g. CLIProfileCredentialsProvider(profile_name=...), "
    "ExternalCredentialsProvider(process_command=...)) or an alibabacloud_credentials.client.Client"
)


def _tool_client_class() -> Optional[type]:
    """The tool's Client class, if its module is loaded (an object cannot be a Client before it is)."""
    return getattr(sys.modules.get("alibabacloud_credentials.client"), "Client", None)


def is_tool_object(value: Any) -> bool:
    """Whether ``value`` looks like a provider object rather than a Config (to explain a misplaced argument)."""
    client = _tool_client_class()
    if client is not None and isinstance(value, client):
        return True
    return (
        not isinstance(value, type) and not hasattr(value, "type") and callable(getattr(value, "get_credentials", None))
    )


class _ClientAsProvider:
    """A Client read through its one-snapshot ``get_credential()``."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get_credentials(self) -> Any:
        return self._client.get_credential()


def wrapped_source(obj: Any) -> _Source:
    """The one source of a CredentialsToolProvider(provider=obj): always that object. ConfigError when ``obj``
    cannot be one, saying what to pass instead."""
    if isinstance(obj, type):
        raise ConfigError(
            f"expected a provider object, not the class {obj.__name__}: pass an instance, provider={obj.__name__}(...)",
            key="provider",
        )
    if isinstance(obj, CredentialsProvider):
        raise ConfigError(
            f"{type(obj).__name__} is already a provider of this library: give it to the client as "
            "credentials_provider= directly",
            key="provider",
        )
    label = f"{type(obj).__name__} object"
    client = _tool_client_class()
    if client is not None and isinstance(obj, client):
        adapter = _ClientAsProvider(obj)
        return _Source(label, lambda: adapter)
    method = getattr(obj, "get_credentials", None)
    if not callable(method):
        raise ConfigError(f"{type(obj).__name__} has no get_credentials(); expected {_EXAMPLES}", key="provider")
    if inspect.iscoroutinefunction(method):
        raise ConfigError(
            f"get_credentials() of {type(obj).__name__} is a coroutine function; expected a synchronous one "
            f"({_EXAMPLES})",
            key="provider",
        )
    return _Source(label, lambda: obj)


def _field(value: Any, name: str) -> Any:
    getter = getattr(value, f"get_{name}", None)
    return getter() if callable(getter) else getattr(value, name, None)


def snapshot(value: Any) -> Credentials:
    """Our Credentials from what one call of the tool returned: its Credentials (getters) or a Client's
    CredentialModel (attributes), every field from that one object."""
    if value is None:
        raise CredentialsError("the source returned no credentials")
    key_id, secret = _field(value, "access_key_id"), _field(value, "access_key_secret")
    if not key_id or not secret:
        bearer = (
            " (it gave a bearer token, which cannot sign AccessKey requests)" if _field(value, "bearer_token") else ""
        )
        raise CredentialsError(f"the source returned credentials without an AccessKey id or secret{bearer}")
    expiration = _field(value, "expiration")
    expiration = (
        float(expiration)
        if isinstance(expiration, (int, float)) and not isinstance(expiration, bool) and expiration > 0
        else None
    )
    return Credentials(key_id, secret, _field(value, "security_token") or None, expiration)

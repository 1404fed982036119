"""The per-process registry: one provider per secret name, one KMS client per configuration (default_kms.py).

This is the library's only global state (documented): every ProxyAcsClient or
ProxyBucket on the same secret shares one provider and so one cache, one fetch
per rotation. Clients hold a reference count; the last to shut down closes it.
"""

import atexit
import logging
from typing import TYPE_CHECKING, Dict

from . import default_kms
from .default_kms import default_config, default_kms_client  # noqa: F401 - callers reach them here too
from .errors import ConfigError, CredentialsError

if TYPE_CHECKING:
    from .managed import ManagedSecretProvider

logger = logging.getLogger("managed_credentials.credentials")

_providers: Dict[str, "ManagedSecretProvider"] = {}
_holders: Dict[str, int] = {}
_preloaded = False


def get_secret_provider(secret_name: str) -> "ManagedSecretProvider":
    """The one shared provider for this managed secret in this process, configured from the properties file."""
    if not isinstance(secret_name, str) or not secret_name.strip():
        raise ConfigError("the secret name is empty", key="secret_name")
    provider = _providers.get(secret_name)
    if provider is not None and not provider.closed:
        return provider
    _preload_configured_secrets()
    with default_kms.lock:
        provider = _providers.get(secret_name)
        if provider is None or provider.closed:
            from .managed import ManagedSecretProvider

            provider = ManagedSecretProvider(
                secret_name, default_kms_client(), startup_timeout=default_config().startup_timeout
            )
            _providers[secret_name] = provider
        return provider


def acquire(secret_name: str) -> "ManagedSecretProvider":
    """A client's hold on the shared provider: released by ``release()`` when the client shuts down."""
    with default_kms.lock:
        provider = get_secret_provider(secret_name)
        _holders[secret_name] = _holders.get(secret_name, 0) + 1
        return provider


def release(secret_name: str) -> None:
    with default_kms.lock:
        count = _holders.get(secret_name, 0) - 1
        if count > 0:
            _holders[secret_name] = count
            return
        _holders.pop(secret_name, None)
        provider = _providers.pop(secret_name, None)
    if provider is not None:
        provider.close()


def _preload_configured_secrets() -> None:
    """``secret_names`` in the properties file are fetched at first use of the registry."""
    global _preloaded
    if _preloaded:
        return
    with default_kms.lock:
        if _preloaded:
            return
        _preloaded = True
        names = default_config().secret_names
    for name in names:
        try:
            get_secret_provider(name)
        except CredentialsError as exc:
            logger.error("secret_names: %s", exc)


def reset() -> None:
    """Forget every provider and the configuration (tests, or after ConfigLoader.set_config_name())."""
    global _preloaded
    with default_kms.lock:
        providers = list(_providers.values())
        _providers.clear()
        _holders.clear()
        default_kms.reset()
        _preloaded = False
    for provider in providers:
        provider.close()


def _close_all() -> None:
    for provider in list(_providers.values()):
        provider.close()


atexit.register(_close_all)
default_kms.on_new_config(reset)  # providers built on the old properties file go with it

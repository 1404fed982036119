"""The per-process registry: one provider per secret name, one KMS client per configuration.

This is the library's only global state (documented): every ProxyAcsClient or
ProxyBucket on the same secret shares one provider and so one cache, one fetch
per rotation. Clients hold a reference count; the last to shut down closes it.
"""
import atexit
import logging
import os
import threading
from typing import Dict, Optional

from .config import ConfigLoader, KmsConfig
from .errors import ConfigError, CredentialsError

logger = logging.getLogger("managed_credentials.credentials")

_lock = threading.RLock()
_providers: Dict[str, object] = {}
_holders: Dict[str, int] = {}
_kms_client = None
_config: Optional[KmsConfig] = None
_config_name: Optional[str] = None
_preloaded = False


def default_config() -> KmsConfig:
    """The parsed properties file; read again when ConfigLoader now names another file."""
    global _config, _config_name
    name = ConfigLoader.get_config_name()
    with _lock:
        if _config is None or name != _config_name:
            if _config is not None:
                reset()
            _config = ConfigLoader.load()
            _config_name = name
        return _config


def default_kms_client():
    """The KMS client built from the properties file, created at first need."""
    global _kms_client
    with _lock:
        if _kms_client is None:
            config = default_config()
            if config.dkms_instances:  # the client keys sign; no credentials_type is needed
                from .dkms_client import DkmsClient
                _kms_client = DkmsClient(config.dkms_instances)
            else:
                from .kms_access import kms_access_provider
                from .kms_client import KmsClient
                _kms_client = KmsClient(config.endpoints, kms_access_provider(config))
        return _kms_client


def get_secret_provider(secret_name: str):
    """The one shared provider for this managed secret in this process, configured from the properties file."""
    if not isinstance(secret_name, str) or not secret_name.strip():
        raise ConfigError("the secret name is empty", key="secret_name")
    provider = _providers.get(secret_name)
    if provider is not None and not provider.closed:
        return provider
    _preload_configured_secrets()
    with _lock:
        provider = _providers.get(secret_name)
        if provider is None or provider.closed:
            from .managed import ManagedSecretProvider
            provider = ManagedSecretProvider(secret_name, default_kms_client(),
                                             startup_timeout=default_config().startup_timeout)
            _providers[secret_name] = provider
        return provider


def acquire(secret_name: str):
    """A client's hold on the shared provider: released by ``release()`` when the client shuts down."""
    with _lock:
        provider = get_secret_provider(secret_name)
        _holders[secret_name] = _holders.get(secret_name, 0) + 1
        return provider


def release(secret_name: str) -> None:
    with _lock:
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
    with _lock:
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
    global _kms_client, _config, _config_name, _preloaded
    with _lock:
        providers = list(_providers.values())
        _providers.clear()
        _holders.clear()
        _kms_client = None
        _config = None
        _config_name = None
        _preloaded = False
    for provider in providers:
        provider.close()


def _close_all() -> None:
    for provider in list(_providers.values()):
        provider.close()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.RLock()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

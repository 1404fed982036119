"""The process's default KMS: the properties file ConfigLoader names, and the one KMS client built from it.

Part of the documented per-process registry. It sits below registry.py (the shared providers) so that a
ManagedSecretProvider given no client and the registry share one client without importing each other.
"""

import os
import threading
from typing import TYPE_CHECKING, Any, Callable, List, Optional

if TYPE_CHECKING:
    from .config import KmsConfig

#: One lock for the whole per-process registry (registry.py's providers too); a forked child gets a new one.
lock = threading.RLock()
_kms_client: Any = None
_config: Optional["KmsConfig"] = None
_config_name: Optional[str] = None
_on_new_config: List[Callable[[], None]] = []


def on_new_config(forget: Callable[[], None]) -> None:
    """Call ``forget()`` (under the lock) before another properties file replaces the one in use."""
    _on_new_config.append(forget)


def default_config() -> "KmsConfig":
    """The parsed properties file; read again when ConfigLoader now names another file."""
    global _config, _config_name
    from .config import ConfigLoader  # at first use: `import credentials` does not parse or validate anything

    name = ConfigLoader.get_config_name()
    with lock:
        if _config is None or name != _config_name:
            if _config is not None:
                for forget in _on_new_config:
                    forget()
                reset()
            _config = ConfigLoader.load()
            _config_name = name
        return _config


def default_kms_client() -> Any:
    """The KMS client built from the properties file, created at first need."""
    global _kms_client
    with lock:
        if _kms_client is None:
            from .kms import build_kms_client  # instances, regions, or instances then regions

            _kms_client = build_kms_client(default_config())
        return _kms_client


def reset() -> None:
    """Forget the configuration and the KMS client (registry.reset() also forgets the providers)."""
    global _kms_client, _config, _config_name
    with lock:
        _kms_client = None
        _config = None
        _config_name = None


def _after_fork_in_child() -> None:
    global lock
    lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

"""The shared provider layer: where credentials come from.

Importing this package starts no thread and touches no network; the KMS and
Credentials-tool machinery is loaded at first use.
"""
import logging

from .config import ConfigLoader
from .errors import ConfigError, CredentialsError
from .model import Credentials
from .provider import CredentialsProvider, RefreshingProvider, StaticCredentialsProvider
from .registry import get_secret_provider

logging.getLogger("managed_credentials").addHandler(logging.NullHandler())

__all__ = ["Credentials", "CredentialsProvider", "ConfigLoader", "StaticCredentialsProvider",
           "ManagedSecretProvider", "CredentialsToolProvider", "get_secret_provider", "CredentialsError",
           "ConfigError", "RefreshingProvider"]


def __getattr__(name):  # PEP 562: keep `import credentials` cheap
    if name == "ManagedSecretProvider":
        from .managed import ManagedSecretProvider
        return ManagedSecretProvider
    if name == "CredentialsToolProvider":
        from .tool_provider import CredentialsToolProvider
        return CredentialsToolProvider
    raise AttributeError(f"module 'credentials' has no attribute {name!r}")

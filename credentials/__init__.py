"""The shared provider layer: where credentials come from.

Importing this package starts no thread and touches no network; the KMS and
Credentials-tool machinery is loaded at first use.
"""

from typing import Any

from .config import ConfigLoader
from .errors import ConfigError, CredentialsError
from .model import Credentials
from .provider import CredentialsProvider, RefreshingProvider
from .registry import get_secret_provider
from .static_provider import StaticCredentialsProvider

# Logging: loggers "managed_credentials.credentials" and "managed_credentials.proxy", no handler of our own. An
# application that configures no logging sees our warnings and errors on stderr (Python's last-resort handler) and
# nothing below; one that configures logging decides for itself.

__all__ = [
    "Credentials",
    "CredentialsProvider",
    "ConfigLoader",
    "StaticCredentialsProvider",
    "ManagedSecretProvider",
    "CredentialsToolProvider",
    "get_secret_provider",
    "CredentialsError",
    "ConfigError",
    "RefreshingProvider",
]


def __getattr__(name: str) -> Any:  # PEP 562: keep `import credentials` cheap
    if name == "ManagedSecretProvider":
        from .managed import ManagedSecretProvider

        return ManagedSecretProvider
    if name == "CredentialsToolProvider":
        from .tool_provider import CredentialsToolProvider

        return CredentialsToolProvider
    raise AttributeError(f"module 'credentials' has no attribute {name!r}")

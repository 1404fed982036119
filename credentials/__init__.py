"""The shared provider layer: where credentials come from.

Importing this package starts no thread and touches no network; the KMS and
Credentials-tool machinery is loaded at first use.

The folders: config/ (the properties file and its keys), kms/ (how this process reaches KMS; kms/dedicated/: the
dedicated KMS instance gateways), tool/ (the Credentials tool adapter), masking/ (what keeps secrets out of logs,
exception texts and reprs). Here at the top: the contract (model, errors, provider, static_provider), the refresh
machinery (refreshing, with waiting, fetch_outcome and throttling), the managed secret (managed, secret) and the
per-process registry (registry, default_kms).
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__ as __version__
from .errors import ConfigError, CredentialsError
from .model import Credentials
from .provider import CredentialsProvider
from .registry import get_secret_provider
from .static_provider import StaticCredentialsProvider
from .stats import status

if TYPE_CHECKING:
    from .config import ConfigLoader
    from .managed import ManagedSecretProvider
    from .refreshing import RefreshingProvider
    from .tool import CredentialsToolProvider

# Logging: loggers "managed_credentials.credentials" and "managed_credentials.proxy", no handler of our own. An
# application that configures no logging sees our warnings and errors on stderr (Python's last-resort handler) and
# nothing below; one that configures logging decides for itself.

# Keep `import credentials` cheap (tests/test_import_cost.py): the properties file's parser and validation, the KMS
# machinery, the Credentials tool and the refresh machinery are loaded at first use.
_LAZY = {
    "ConfigLoader": ".config",
    "ManagedSecretProvider": ".managed",
    "CredentialsToolProvider": ".tool",
    "RefreshingProvider": ".refreshing",
}

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
    "status",
]

__getattr__ = lazy_exports(__name__, _LAZY)

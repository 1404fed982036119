"""The properties file: its parser (properties), its keys (keys), the endpoints and dedicated instances it names
(endpoints, dedicated), the client key files it points to (client_key), and the loader that validates it all into
one KmsConfig (loader).

The client key and dedicated-instance parts are imported at first use: only a configuration that uses them pays
for them.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from .endpoints import KmsEndpoint
from .keys import example_text
from .loader import DEFAULT_STARTUP_TIMEOUT, ConfigLoader, KmsConfig, read_config

if TYPE_CHECKING:
    from .client_key import ClientKey, load_client_key
    from .dedicated import DkmsInstance

_LAZY = {"ClientKey": ".client_key", "load_client_key": ".client_key", "DkmsInstance": ".dedicated"}

__all__ = [
    "ConfigLoader",
    "KmsConfig",
    "read_config",
    "DEFAULT_STARTUP_TIMEOUT",
    "KmsEndpoint",
    "example_text",
    "ClientKey",
    "load_client_key",
    "DkmsInstance",
]

__getattr__ = lazy_exports(__name__, _LAZY)

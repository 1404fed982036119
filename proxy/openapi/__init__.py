"""tea-openapi (V2 generated clients): ProxyOpenApiClient (client), ManagedCredentialsClient, the credential any V2
client signs with (credential), and the reaches into tea's private parts (_compat)."""

from .client import ProxyOpenApiClient
from .credential import ManagedCredentialsClient

__all__ = ["ProxyOpenApiClient", "ManagedCredentialsClient"]

"""How this process reaches KMS: the shared KMS client (client), how the process authenticates to it (access), the
aliyunsdkcore signers (signers), the choice between dedicated instances and shared KMS (fallback), and the
dedicated KMS instance gateways (dedicated/); shared by all of them, a failed GetSecretValue (errors) and how a fetch
retries within itself and ends by a deadline (retrying).

Every name is imported at first use: a program that only signs with ProviderSigner never loads the KMS client.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._acs_compat import sdk_init_without_endpoint_tables
    from .access import kms_access_provider
    from .client import KmsClient
    from .errors import KmsRequestError
    from .fallback import FallbackKmsClient, build_kms_client
    from .signers import ClientKeySigner, ProviderSigner

_LAZY = {
    "KmsClient": ".client",
    "KmsRequestError": ".errors",
    "kms_access_provider": ".access",
    "build_kms_client": ".fallback",
    "FallbackKmsClient": ".fallback",
    "ProviderSigner": ".signers",
    "ClientKeySigner": ".signers",
    "sdk_init_without_endpoint_tables": "._acs_compat",  # shared with proxy/acs/_compat.py
}

__all__ = [
    "KmsClient",
    "KmsRequestError",
    "kms_access_provider",
    "build_kms_client",
    "FallbackKmsClient",
    "ProviderSigner",
    "ClientKeySigner",
    "sdk_init_without_endpoint_tables",
]

__getattr__ = lazy_exports(__name__, _LAZY)

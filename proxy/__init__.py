"""Drop-in SDK clients whose keys come from the provider layer and heal on rotation.

Each client is loaded at first use, so a program that only needs
ProxyAcsClient never pays for importing oss2 or tea-openapi.
"""
from typing import Any, List

from .handlers import AKExpireHandler, OssAKExpireHandler, SdkCoreAKExpireHandler, TeaAKExpireHandler

__all__ = ["ProxyAcsClient", "ProxyBucket", "ProxyService", "AKExpireHandler", "SdkCoreAKExpireHandler",
           "OssAKExpireHandler", "TeaAKExpireHandler", "ManagedCredentialsClient", "ProxyOpenApiClient"]

_LAZY = {
    "ProxyAcsClient": ".acs_client",
    "ProxyBucket": ".oss_bucket",
    "ProxyService": ".oss_bucket",
    "ManagedCredentialsClient": ".openapi",
    "ProxyOpenApiClient": ".openapi",
}


def __getattr__(name: str) -> Any:  # PEP 562
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'proxy' has no attribute {name!r}")
    from importlib import import_module
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))

"""Drop-in SDK clients whose keys come from the provider layer and heal on rotation.

Each client is loaded at first use, so a program that only needs
ProxyAcsClient never pays for importing oss2 or tea-openapi, and nothing imports OSS SDK V2
(alibabacloud_oss_v2, the ``.[oss-v2]`` extra) unless a V2 proxy is used.
"""

from typing import Any, List

from .handlers import (
    AKExpireHandler,
    OssAKExpireHandler,
    OssV2AKExpireHandler,
    SdkCoreAKExpireHandler,
    TeaAKExpireHandler,
)

__all__ = [
    "ProxyAcsClient",
    "ProxyBucket",
    "ProxyService",
    "AKExpireHandler",
    "SdkCoreAKExpireHandler",
    "OssAKExpireHandler",
    "TeaAKExpireHandler",
    "ManagedCredentialsClient",
    "ProxyOpenApiClient",
    "OssV2AKExpireHandler",
    "ManagedOssCredentialsProvider",
    "ProxyOssClient",
    "ProxyAsyncOssClient",
]

_LAZY = {
    "ProxyAcsClient": ".acs_client",
    "ProxyBucket": ".oss_bucket",
    "ProxyService": ".oss_bucket",
    "ManagedCredentialsClient": ".openapi_credential",
    "ProxyOpenApiClient": ".openapi",
    "ManagedOssCredentialsProvider": ".oss_v2_credentials",  # OSS SDK V2: extra .[oss-v2]
    "ProxyOssClient": ".oss_v2",
    "ProxyAsyncOssClient": ".oss_v2_async",
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

"""OSS SDK V2 (alibabacloud-oss-v2, the ``.[oss-v2]`` extra): ProxyOssClient (client), ProxyAsyncOssClient
(async_client), ManagedOssCredentialsProvider for a plain V2 client (provider), and the reach into the SDK's
private parts (_compat).

Each name is imported at first use: the synchronous client never loads the SDK's asyncio client (and aiohttp).
"""

from typing import TYPE_CHECKING

from credentials._lazy import lazy_exports

if TYPE_CHECKING:
    from .async_client import ProxyAsyncOssClient
    from .client import ProxyOssClient
    from .provider import ManagedOssCredentialsProvider

_LAZY = {
    "ManagedOssCredentialsProvider": ".provider",
    "ProxyOssClient": ".client",
    "ProxyAsyncOssClient": ".async_client",
}

__all__ = [
    "ManagedOssCredentialsProvider",
    "ProxyOssClient",
    "ProxyAsyncOssClient",
]

__getattr__ = lazy_exports(__name__, _LAZY)

"""Drop-in SDK clients whose keys come from the provider layer and heal on rotation.

One subpackage per SDK (acs/, oss/, openapi/, oss_v2/, sls/, mns/, tablestore/), each built on the shared machinery
here at the top: the re-issue loop (reissue), which errors mean an expired key (handlers), the errors raised (errors),
request bodies that can be sent again (bodies), where the keys come from (source), fresh connections after a rotation
(fresh_connections) and the key fields pinned per request (pinned_snapshot).

Each client is loaded at first use, so a program that only needs
ProxyAcsClient never pays for importing oss2 or tea-openapi, and nothing imports OSS SDK V2
(alibabacloud_oss_v2, the ``.[oss-v2]`` extra), Log Service's SDK (aliyun.log, ``.[sls]``), aliyun-mns-sdk
(``.[mns]``) or tablestore (``.[tablestore]``) unless its proxy is used.

An adapter whose SDK comes with an extra that is not installed still has its names here (so ``from proxy import *``
and ``help(proxy)`` work on the base install): each is a placeholder class whose construction raises ImportError
saying what to install.
"""

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from .handlers import (
    AKExpireHandler,
    MnsAKExpireHandler,
    OssAKExpireHandler,
    OssV2AKExpireHandler,
    OtsAKExpireHandler,
    SdkCoreAKExpireHandler,
    SlsAKExpireHandler,
    TeaAKExpireHandler,
)

if TYPE_CHECKING:  # for the type checker and the API reference (mkdocstrings); imported at first use below
    from .acs import ProxyAcsClient
    from .mns import ProxyMnsAccount
    from .openapi import ManagedCredentialsClient, ProxyOpenApiClient
    from .oss import ProxyBucket, ProxyService
    from .oss_v2 import ManagedOssCredentialsProvider, ProxyAsyncOssClient, ProxyOssClient
    from .sls import ProxyLogClient, ProxyQueuedLogHandler, ProxySimpleLogHandler, ProxyUwsgiQueuedLogHandler
    from .tablestore import ProxyOTSClient

# Every client, and the adapter (one subpackage per SDK) that exports it (imported at first use).
_LAZY = {
    "ProxyAcsClient": ".acs",
    "ProxyBucket": ".oss",
    "ProxyService": ".oss",
    "ManagedCredentialsClient": ".openapi",
    "ProxyOpenApiClient": ".openapi",
    "ManagedOssCredentialsProvider": ".oss_v2",  # OSS SDK V2: extra .[oss-v2]
    "ProxyOssClient": ".oss_v2",
    "ProxyAsyncOssClient": ".oss_v2",
    "ProxyMnsAccount": ".mns",  # Message Service: extra .[mns]
    "ProxyOTSClient": ".tablestore",  # Tablestore: extra .[tablestore]
    "ProxyLogClient": ".sls",  # Log Service: extra .[sls]
    "ProxyQueuedLogHandler": ".sls",
    "ProxySimpleLogHandler": ".sls",
    "ProxyUwsgiQueuedLogHandler": ".sls",
}

# One entry per adapter whose SDK is an optional extra: the extra's name -> (the SDK's import name, the names the
# adapter exports). Without that SDK, the names are placeholders that say which extra to install.
_EXTRAS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "oss-v2": ("alibabacloud_oss_v2", ("ManagedOssCredentialsProvider", "ProxyOssClient", "ProxyAsyncOssClient")),
    "mns": ("mns", ("ProxyMnsAccount",)),
    "tablestore": ("tablestore", ("ProxyOTSClient",)),
    "sls": (
        "aliyun.log",
        ("ProxyLogClient", "ProxyQueuedLogHandler", "ProxySimpleLogHandler", "ProxyUwsgiQueuedLogHandler"),
    ),
}

__all__ = [
    "AKExpireHandler",
    "SdkCoreAKExpireHandler",
    "OssAKExpireHandler",
    "TeaAKExpireHandler",
    "OssV2AKExpireHandler",
    "MnsAKExpireHandler",
    "OtsAKExpireHandler",
    "SlsAKExpireHandler",
    # the _LAZY names:
    "ProxyAcsClient",
    "ProxyBucket",
    "ProxyService",
    "ManagedCredentialsClient",
    "ProxyOpenApiClient",
    "ManagedOssCredentialsProvider",
    "ProxyOssClient",
    "ProxyAsyncOssClient",
    "ProxyMnsAccount",
    "ProxyOTSClient",
    "ProxyLogClient",
    "ProxyQueuedLogHandler",
    "ProxySimpleLogHandler",
    "ProxyUwsgiQueuedLogHandler",
]


def __getattr__(name: str) -> Any:  # PEP 562
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'proxy' has no attribute {name!r}")
    from importlib import import_module

    try:
        value = getattr(import_module(module, __name__), name)
    except ImportError:
        extra = _extra_of(name)
        if extra is None or _installed(_EXTRAS[extra][0]):
            raise  # the SDK is there: a real error, not a missing extra
        value = _needs_extra(name, extra)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))


def _extra_of(name: str) -> Optional[str]:
    return next((extra for extra, (_, names) in _EXTRAS.items() if name in names), None)


def _installed(sdk: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(sdk) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module entry set to None
        return False


def _needs_extra(name: str, extra: str) -> type:
    """A class standing for ``name`` whose construction says what to install."""
    message = (
        f"proxy.{name} needs {_EXTRAS[extra][0]}, which is not installed: "
        f"pip install 'managed-credentials-sdk-proxy[{extra}]' (from a checkout: pip install -e '.[{extra}]')"
    )

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        raise ImportError(message, name=_EXTRAS[extra][0])

    return type(name, (), {"__new__": __new__, "__doc__": f"Not installed. {message}", "__module__": __name__})

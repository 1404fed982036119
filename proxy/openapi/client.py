"""V2 (tea-openapi) SDK clients on managed keys: ProxyOpenApiClient (and ManagedCredentialsClient, in
proxy/openapi/credential.py).

``ManagedCredentialsClient`` is a credential object that ``alibabacloud_tea_openapi.models.Config(credential=...)``
accepts: tea-openapi calls its ``get_credential()`` (``get_credential_async()``) on every attempt, so every request
is signed with the provider's current snapshot (key id, secret and token of one version, never a torn pair).

``ProxyOpenApiClient`` is a tea-openapi ``Client`` that, in addition, re-issues a request that failed with an
expired-key ``TeaException`` (TeaAKExpireHandler's codes), after one single-flight refresh of the provider, a
bounded number of times (proxy.reissue.Reissuer; the async methods follow the same rule).

Which methods carry the rule: the request methods every call ends in, ``do_rpcrequest``, ``do_roarequest``,
``do_roarequest_with_form``, ``do_request`` and ``execute`` and their ``_async`` variants. ``call_api`` and the
methods of generated product clients (``describe_regions_with_options``, ...) reach one of these through ``self``,
so a product client gets the behaviour by being a subclass of ProxyOpenApiClient as well:

    from alibabacloud_ecs20140526.client import Client as EcsClient
    EcsProxy = ProxyOpenApiClient.for_product(EcsClient)       # or: class EcsProxy(ProxyOpenApiClient, EcsClient)
    ecs = EcsProxy(Config(region_id="cn-hangzhou"), secret_name="my-ram-secret")

Server-sent-event calls (``call_sseapi``) stream their answer and are not re-issued.
"""

import copy
import os
import threading
from typing import Any, Callable, Dict, Optional, Type

from alibabacloud_tea_openapi.client import Client as OpenApiClient

from credentials import CredentialsProvider

from ..bodies import body_rewinder
from ..handlers import AKExpireHandler, TeaAKExpireHandler
from ..reissue import Reissuer
from ._compat import endpoint_of
from .credential import ManagedCredentialsClient

_SYNC_METHODS = ("do_rpcrequest", "do_roarequest", "do_roarequest_with_form", "do_request", "execute")
_ASYNC_METHODS = tuple(name + "_async" for name in _SYNC_METHODS)


def _stream_rewinder(args: tuple, kwargs: dict) -> Optional[Callable[[], bool]]:
    """The request's body stream (OpenApiRequest.stream), if any, rewound before a re-issue or not re-sent."""
    return body_rewinder(getattr(value, "stream", None) for value in (*args, *kwargs.values()))


def _reissuing(name: str) -> Callable[..., Any]:
    def method(self: "ProxyOpenApiClient", *args: Any, **kwargs: Any) -> Any:
        inherited = getattr(super(ProxyOpenApiClient, self), name)
        return self._reissuer.call(lambda: inherited(*args, **kwargs), _stream_rewinder(args, kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``{name}`` of tea-openapi, re-issued after a refresh when the key was rotated or expired."
    return method


def _reissuing_async(name: str) -> Callable[..., Any]:
    async def method(self: "ProxyOpenApiClient", *args: Any, **kwargs: Any) -> Any:
        inherited = getattr(super(ProxyOpenApiClient, self), name)
        return await self._reissuer.call_async(lambda: inherited(*args, **kwargs), _stream_rewinder(args, kwargs))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``{name}`` of tea-openapi, re-issued after a refresh when the key was rotated or expired."
    return method


def _with_credential(config: Any, credential: ManagedCredentialsClient) -> Any:
    """The caller's Config with ``credential=`` ours (tea-openapi's public way in): a shallow copy when it carries
    none, so the caller's object is left as it was."""
    if config is None or getattr(config, "credential", None) is credential:
        return config
    configured = copy.copy(config)
    configured.credential = credential
    return configured


class ProxyOpenApiClient(OpenApiClient):
    """A tea-openapi Client (V2 SDKs) whose key comes from the provider layer and heals on rotation.

        client = ProxyOpenApiClient(Config(endpoint="ecs.cn-hangzhou.aliyuncs.com"), secret_name="my-ram-secret")
        client = ProxyOpenApiClient(config, credentials_provider=provider, ak_expire_handler=MyHandler())
        client = ProxyOpenApiClient(Config(credential=ManagedCredentialsClient("my-ram-secret"), ...))

    Exactly one of ``secret_name`` / ``credentials_provider``, or neither when ``config.credential`` is a
    ManagedCredentialsClient. ``config`` must not carry another key (access_key_id, bearer_token, credential).
    A generated product client (``alibabacloud_ecs20140526.client.Client``, ...) gets the same behaviour as
    ``ProxyOpenApiClient.for_product(EcsClient)``.

    What heals: every request, sync and ``*_async``: ``do_rpcrequest``, ``do_roarequest``,
    ``do_roarequest_with_form``, ``do_request`` and ``execute``, which ``call_api`` and every generated
    ``*_with_options`` method go through. When it fails with an error the
    ``ak_expire_handler`` judges to be a rotated or revoked key (``TeaAKExpireHandler``: the AcsClient codes plus
    InvalidAccessKeyId), the key is refreshed once for every thread that saw it and the request is made again,
    signed anew, at most twice; a request body stream is rewound first, or not re-sent when it cannot be.

    What does not heal, and why: any other error reaches the caller unchanged. When no key can be had, a call
    raises tea's ``ClientException``, which is also a ``credentials.CredentialsError``. A plain tea client given
    a ManagedCredentialsClient signs with the managed key but does not re-issue: a credential never sees the
    response.
    """

    _product_classes: Dict[type, type] = {}
    _product_lock = threading.Lock()

    def __init__(
        self,
        config: Any,
        secret_name: Optional[str] = None,
        *,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
    ):
        """``config``: tea-openapi's Config (endpoint, region_id, ...) without a key of its own. See the class for
        ``secret_name`` / ``credentials_provider``; ``ak_expire_handler`` defaults to ``TeaAKExpireHandler()``."""
        for field_name in ("access_key_id", "access_key_secret", "security_token", "bearer_token"):
            if getattr(config, field_name, None):
                raise ValueError(
                    f"ProxyOpenApiClient takes its key from secret_name= or credentials_provider=, "
                    f"not config.{field_name}"
                )
        given = getattr(config, "credential", None)
        if secret_name is None and credentials_provider is None and isinstance(given, ManagedCredentialsClient):
            credential, self._owns_credential = given, False
        else:
            if given is not None and not isinstance(given, ManagedCredentialsClient):
                raise ValueError(
                    "config.credential is another credential; ProxyOpenApiClient signs with the "
                    "managed key: drop credential= or pass a ManagedCredentialsClient"
                )
            credential = ManagedCredentialsClient(secret_name, credentials_provider=credentials_provider)
            self._owns_credential = True
        self._managed_credential = credential
        self._reissuer = Reissuer(
            credential.credentials_provider,
            ak_expire_handler or TeaAKExpireHandler(),
            credential.last_signed,
            sdk="tea-openapi",
        )
        self._shut_down = False
        super().__init__(_with_credential(config, credential))

    @classmethod
    def for_product(cls, product_client_class: Type[OpenApiClient]) -> type:
        """A subclass of a generated V2 product client (e.g. alibabacloud_ecs20140526.client.Client) with this
        class's behaviour; construct it as ``(config, secret_name=... | credentials_provider=...)``."""
        if isinstance(product_client_class, type) and issubclass(product_client_class, ProxyOpenApiClient):
            return product_client_class
        if not (isinstance(product_client_class, type) and issubclass(product_client_class, OpenApiClient)):
            raise TypeError(
                "for_product() takes a tea-openapi client class (a subclass of alibabacloud_tea_openapi.client.Client)"
            )
        with cls._product_lock:
            made = cls._product_classes.get(product_client_class)
            if made is None:
                made = type(
                    f"Proxy{product_client_class.__name__}",
                    (ProxyOpenApiClient, product_client_class),
                    {
                        "__module__": __name__,
                        "__doc__": f"{product_client_class.__module__}."
                        f"{product_client_class.__qualname__} with ProxyOpenApiClient's re-issue.",
                    },
                )
                cls._product_classes[product_client_class] = made
            return made

    @property
    def credentials_provider(self) -> CredentialsProvider:
        return self._managed_credential.credentials_provider

    def shutdown(self) -> None:
        """Release this client's hold on a shared secret provider. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        if self._owns_credential:
            self._managed_credential.shutdown()

    def __enter__(self) -> "ProxyOpenApiClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._managed_credential._source.describe()}, endpoint={endpoint_of(self)!r})"


def _reset_lock_after_fork() -> None:
    ProxyOpenApiClient._product_lock = threading.Lock()  # a parent's thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)

for _name in _SYNC_METHODS:
    setattr(ProxyOpenApiClient, _name, _reissuing(_name))
for _name in _ASYNC_METHODS:
    setattr(ProxyOpenApiClient, _name, _reissuing_async(_name))
del _name

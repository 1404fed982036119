"""V2 (tea-openapi) SDK clients on managed keys: ManagedCredentialsClient and ProxyOpenApiClient.

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

import asyncio
import contextvars
import copy
import functools
import logging
import threading
from typing import Any, Callable, Dict, NoReturn, Optional, Tuple, Type

from alibabacloud_credentials.models import CredentialModel
from alibabacloud_tea_openapi.client import Client as OpenApiClient

from credentials import CredentialsError, CredentialsProvider
from credentials.model import Credentials, mask
from credentials.tool_provider import tame_tool_logging

from . import errors
from ._tea_compat import endpoint_of
from .bodies import body_rewinder
from .handlers import AKExpireHandler, TeaAKExpireHandler
from .reissue import Reissuer
from .source import KeySource

logger = logging.getLogger("managed_credentials.proxy")

PROVIDER_NAME = "managed_credentials"  # sent by tea-openapi as x-acs-credentials-provider

# Which snapshot signed the latest request of this thread (sync) or task (asyncio), per credential client.
_SIGNED: "contextvars.ContextVar[Optional[Tuple[int, Credentials]]]" = contextvars.ContextVar(
    "managed_credentials_signed", default=None
)

tame_tool_logging()  # tea-openapi imported the Credentials tool, which attached its handlers to logger "credentials"


class ManagedCredentialModel(CredentialModel):
    """What ``get_credential()`` returns: one snapshot. Its repr and str never show the secret or the token."""

    def __repr__(self) -> str:
        token = ", security_token=****" if self.security_token else ""
        return (
            f"ManagedCredentialModel(type={self.type!r}, access_key_id={mask(self.access_key_id)!r}, "
            f"access_key_secret=****{token})"
        )

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("credentials are not picklable: pass a provider, not the key")


def _model(credentials: Credentials) -> ManagedCredentialModel:
    return ManagedCredentialModel(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
        bearer_token=None,
        type="sts" if credentials.security_token else "access_key",
        provider_name=PROVIDER_NAME,
    )


class ManagedCredentialsClient:
    """A credential for ``Config(credential=...)`` of any V2 SDK, backed by a managed secret or a provider.

        ManagedCredentialsClient(secret_name="my-ram-secret")      # or ManagedCredentialsClient("my-ram-secret")
        ManagedCredentialsClient(credentials_provider=provider)

    Exactly one of the two (ValueError otherwise). ``shutdown()`` releases a shared secret provider.
    """

    def __init__(
        self, secret_name: Optional[str] = None, *, credentials_provider: Optional[CredentialsProvider] = None
    ):
        self._source = KeySource(secret_name, credentials_provider, type(self).__name__)

    @property
    def credentials_provider(self) -> CredentialsProvider:
        return self._source.provider

    # --- what tea-openapi calls (older versions call the getters one by one) -------------------------------------
    # Without a key they raise tea's own client-side exception, which is a CredentialsError too (proxy/errors.py).
    def get_credential(self) -> ManagedCredentialModel:
        return _model(self._snapshot(self._credentials()))

    async def get_credential_async(self) -> ManagedCredentialModel:
        return _model(self._snapshot(await self._credentials_async()))

    def get_access_key_id(self) -> str:
        return self._credentials().access_key_id

    def get_access_key_secret(self) -> str:
        return self._credentials().access_key_secret

    def get_security_token(self) -> Optional[str]:
        return self._credentials().security_token

    async def get_access_key_id_async(self) -> str:
        return (await self._credentials_async()).access_key_id

    async def get_access_key_secret_async(self) -> str:
        return (await self._credentials_async()).access_key_secret

    async def get_security_token_async(self) -> Optional[str]:
        return (await self._credentials_async()).security_token

    def get_type(self) -> str:
        return "sts" if self._credentials().security_token else "access_key"

    def get_bearer_token(self) -> None:
        return None

    # --- ours -------------------------------------------------------------------------------------------------
    def _credentials(self) -> Credentials:
        try:
            return self._source.provider.get_credentials()
        except CredentialsError as exc:
            raise errors.for_tea(exc) from exc  # __cause__: the CredentialsError

    async def _credentials_async(self) -> Credentials:
        try:
            return await _current(self._source.provider)
        except CredentialsError as exc:
            raise errors.for_tea(exc) from exc  # __cause__: the CredentialsError

    def _snapshot(self, credentials: Credentials) -> Credentials:
        _SIGNED.set((id(self), credentials))
        return credentials

    def last_signed(self) -> Optional[Credentials]:
        """The snapshot handed out for this thread's (or asyncio task's) latest request."""
        signed = _SIGNED.get()
        return signed[1] if signed is not None and signed[0] == id(self) else None

    def shutdown(self) -> None:
        """Release this client's hold on a shared secret provider. Idempotent."""
        self._source.release()

    def __enter__(self) -> "ManagedCredentialsClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"ManagedCredentialsClient({self._source.describe()})"


async def _current(provider: CredentialsProvider) -> Credentials:
    """The provider's credentials without blocking the event loop: at once on a warm cache, else from a worker
    thread (the call may wait for a fetch)."""
    without_waiting = getattr(provider, "credentials_without_waiting", None)
    credentials = without_waiting() if callable(without_waiting) else None
    return credentials if credentials is not None else await _in_thread(provider.get_credentials)


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run a provider call (it may wait for a fetch) without blocking the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args))


# --- ProxyOpenApiClient ------------------------------------------------------------------------------------------

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
            credential.credentials_provider, ak_expire_handler or TeaAKExpireHandler(), credential.last_signed
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


for _name in _SYNC_METHODS:
    setattr(ProxyOpenApiClient, _name, _reissuing(_name))
for _name in _ASYNC_METHODS:
    setattr(ProxyOpenApiClient, _name, _reissuing_async(_name))
del _name

"""The KMS client's reaches into aliyun-python-sdk-core's private parts (tests/test_compat.py).

aliyunsdkcore has no public way to sign one request with a signer of our own and send it without its DEBUG log of
the response body, nor to build an AcsClient without parsing its endpoint tables. What we need of that lives here,
so an SDK upgrade that moves it fails tests/test_compat.py with a message naming this module, instead of breaking the
KMS client silently. ProxyAcsClient's reaches into the same SDK live beside it, in proxy/acs/_compat.py, which takes
the constructor without the tables from here (``credentials.kms.sdk_init_without_endpoint_tables``).
"""

import types
from typing import Any, Callable, Dict

from aliyunsdkcore.client import AcsClient


def make_http_response(
    client: AcsClient, host: str, request: Any, read_timeout: float, connect_timeout: float, signer: Any
) -> Any:
    """One request signed by ``signer``, not yet sent (``.get_response_object()`` sends it), without the SDK's
    endpoint resolution or retries and without its DEBUG log of the response body (which would hold a secret).

    Reaches ``AcsClient._make_http_response``: the public do_action_* take no signer and log the body.
    """
    return client._make_http_response(host, request, read_timeout, connect_timeout, signer)


# --- AcsClient.__init__ without the endpoint tables --------------------------------------------------------------
# Reaches AcsClient.__init__'s code object and globals (``__code__``, ``__globals__``), and the name
# ``DefaultEndpointResolver`` it calls.


class _SdkGlobals(dict):
    """The globals of aliyunsdkcore.client as its functions see them, with a few names overridden: every other
    name is looked up in the live module, so a later patch of the module is still seen."""

    def __init__(self, module_globals: Dict[str, Any], **overrides: Any) -> None:
        super().__init__(overrides, __builtins__=module_globals["__builtins__"])
        self._module_globals = module_globals

    def __missing__(self, name: str) -> Any:
        return self._module_globals[name]


def _skip_endpoint_tables(client: Any, *args: Any, **kwargs: Any) -> None:
    return None


def sdk_init_without_endpoint_tables() -> Callable[..., None]:
    """AcsClient.__init__ as the SDK wrote it, except that it builds no DefaultEndpointResolver.

    That resolver parses aliyunsdkcore's endpoint tables into each new client (about 4 ms and 380 KiB).
    ProxyAcsClient replaces it at once with one shared copy (proxy/acs/endpoints.py); the KMS client never
    resolves an endpoint (it sends to the host the properties file names). Running the SDK's own constructor
    code, with that one name bound to a stub, keeps every other attribute it sets; an SDK whose constructor does
    not name the resolver gets its constructor unchanged.
    """
    init = AcsClient.__init__
    if "DefaultEndpointResolver" not in init.__code__.co_names:
        return init
    clone = types.FunctionType(
        init.__code__,
        _SdkGlobals(init.__globals__, DefaultEndpointResolver=_skip_endpoint_tables),
        init.__name__,
        init.__defaults__,
        init.__closure__,
    )
    clone.__kwdefaults__ = init.__kwdefaults__
    return clone


def acs_client_without_endpoint_tables(**kwargs: Any) -> AcsClient:
    """A plain AcsClient built by ``sdk_init_without_endpoint_tables()``: for requests sent to a known host through
    ``make_http_response`` only (it has no endpoint resolver)."""
    client = AcsClient.__new__(AcsClient)
    _init(client, **kwargs)
    return client


_init = sdk_init_without_endpoint_tables()

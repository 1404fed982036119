"""The one place every Message Service request goes through, healing on the shared Reissuer.

An Account hands its MNSClient (``account.mns_client``) to every Queue, Topic and Subscription it makes; each of
their calls is one MNSClient method (``send_message(req, resp)``, ``receive_message``, ``create_queue``,
``publish_message``, ... 28 in aliyun-mns-sdk 1.3) that builds the request from ``req``, signs it in
``build_header`` (one ``get_credentials()`` per request), sends it, and raises MNSServerException on an error
answer. ManagedMnsClient runs each of those methods on the Reissuer: after an expired-key error the same ``req``
is built, signed with the refreshed key and sent again. ``req`` is the caller's request object, read again, never
changed by the SDK, so nothing of the first attempt is re-used.

The sending methods are found by what they do (their code calls ``build_header``), not from a list, so a method a
newer SDK adds heals too; tests/test_conformance_mns.py checks the set.
"""

import functools
from typing import Any, Callable, Dict

from mns.mns_client import MNSClient

from ..reissue import Reissuer


def sending_methods() -> Dict[str, Callable[..., Any]]:
    """MNSClient's methods that sign and send a request: those whose code calls ``build_header``."""
    return {
        name: method
        for name, method in vars(MNSClient).items()
        if callable(method)
        and not name.startswith("_")
        and name != "build_header"
        and "build_header" in getattr(getattr(method, "__code__", None), "co_names", ())
    }


def _healing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def send(client: "ManagedMnsClient", *args: Any, **kwargs: Any) -> Any:
        return client.reissuer.call(lambda: method(client, *args, **kwargs))

    return send


class ManagedMnsClient(MNSClient):
    """An MNSClient whose every request signs with the provider's current snapshot and is re-issued after an
    expired-key error (``reissuer``: the Account's Reissuer). Made by ProxyMnsAccount; one HTTP connection, as the
    SDK's."""

    def __init__(self, host: str, credentials_provider: Any, reissuer: Reissuer, logger: Any = None) -> None:
        super().__init__(host, logger=logger, credentials_provider=credentials_provider)
        self.reissuer = reissuer


for _name, _method in sending_methods().items():
    setattr(ManagedMnsClient, _name, _healing(_method))
del _name, _method

"""Endpoint resolution for ProxyAcsClient without a private copy of endpoints.json per client.

A plain AcsClient parses aliyunsdkcore's endpoint tables into each new client
(about 380 KiB apiece). Those tables are read-only, so proxies share one copy,
built at first need; what is per client (add_endpoint entries, the location
service that calls with the client's own key) stays per client.
"""

import os
import threading
from typing import Any, Optional, Tuple

from aliyunsdkcore.endpoint.chained_endpoint_resolver import ChainedEndpointResolver
from aliyunsdkcore.endpoint.default_endpoint_resolver import DefaultEndpointResolver
from aliyunsdkcore.endpoint.endpoint_resolver_rules import EndpointResolverRules
from aliyunsdkcore.endpoint.local_config_global_endpoint_resolver import LocalConfigGlobalEndpointResolver
from aliyunsdkcore.endpoint.local_config_regional_endpoint_resolver import LocalConfigRegionalEndpointResolver
from aliyunsdkcore.endpoint.location_service_endpoint_resolver import LocationServiceEndpointResolver
from aliyunsdkcore.endpoint.user_customized_endpoint_resolver import UserCustomizedEndpointResolver

_lock = threading.Lock()
_tables: Optional[Tuple[LocalConfigRegionalEndpointResolver, LocalConfigGlobalEndpointResolver]] = None


def _reset_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


def _shared_tables() -> Tuple[LocalConfigRegionalEndpointResolver, LocalConfigGlobalEndpointResolver]:
    global _tables
    with _lock:
        if _tables is None:
            _tables = (LocalConfigRegionalEndpointResolver(), LocalConfigGlobalEndpointResolver())
        return _tables


class SharedTablesEndpointResolver:
    """The same chain as aliyunsdkcore's DefaultEndpointResolver, in the same order."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._customized = UserCustomizedEndpointResolver()
        self._chain: Optional[ChainedEndpointResolver] = None

    def resolve(self, request: Any) -> Any:
        chain = self._chain
        if chain is None:
            regional, global_ = _shared_tables()
            chain = self._chain = ChainedEndpointResolver(
                [
                    DefaultEndpointResolver.predefined_endpoint_resolver,
                    self._customized,
                    regional,
                    EndpointResolverRules(),
                    global_,
                    LocationServiceEndpointResolver(self._client),
                ]
            )
        return chain.resolve(request)

    def put_endpoint_entry(self, region_id: str, product_code: str, endpoint: str) -> None:
        self._customized.put_endpoint_entry(region_id, product_code, endpoint)

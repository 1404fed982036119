"""New connections for a forked child, keeping every setting the user gave the HTTP session.

After ``os.fork()`` the child holds copies of the parent's pooled keep-alive sockets: when both send on one, each
reads the other's answers. Replacing the session with a default one would fix that and drop what the user
configured (a pinned CA bundle would widen to the system CAs). So a ``requests.Session`` (also aliyunsdkcore's
vendored one) is renewed in place: the Session object, its headers, ``verify``, ``cert``, ``auth``, ``proxies``,
hooks, ``trust_env`` and its mounted adapters all stay; only each adapter's connection pools are new. An adapter
is renewed through requests' own pickle protocol (``HTTPAdapter.__getstate__`` / ``__setstate__``: max_retries, pool
sizes and block kept, the adapter's own ``init_poolmanager`` run again, so a subclass's TLS context stays), and
the pool keywords the old pool manager had (an ``ssl_context`` set by hand) are carried over.

The inherited sockets are dropped, never shut down: in the child that only closes the child's copy of each file
descriptor, and the parent's connections go on undisturbed.
"""

import logging
from typing import Any, Iterable

logger = logging.getLogger("managed_credentials.proxy")


def renew_adapter(adapter: Any) -> bool:
    """Give a requests ``HTTPAdapter`` new, empty connection pools with the same settings. False when ``adapter``
    is not one (another transport adapter: left as it is, and said at WARNING)."""
    if getattr(type(adapter), "__attrs__", None) is None or not callable(getattr(adapter, "init_poolmanager", None)):
        logger.warning(
            "after os.fork(): %s is not a requests HTTPAdapter; its connections are left as they were",
            type(adapter).__name__,
        )
        return False
    old = getattr(adapter, "poolmanager", None)
    adapter.__setstate__(adapter.__getstate__())  # what unpickling does: new pool manager, same settings
    new = getattr(adapter, "poolmanager", None)
    carried = getattr(old, "connection_pool_kw", None)
    if new is not None and new is not old and isinstance(carried, dict):
        for name, value in carried.items():
            new.connection_pool_kw.setdefault(name, value)
    return True


def renew_connections(session: Any) -> None:
    """In a forked child: every adapter mounted on ``session`` (a requests Session) gets new connection pools;
    nothing else on the session changes."""
    renew_adapters(getattr(session, "adapters", {}).values())


def renew_adapters(adapters: Iterable[Any]) -> None:
    seen = set()
    for adapter in list(adapters):
        if id(adapter) not in seen:  # one adapter may be mounted for several prefixes
            seen.add(id(adapter))
            renew_adapter(adapter)

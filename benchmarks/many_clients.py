"""1,000 clients on one secret: one GetSecretValue between them, and what each extra client costs in memory.

Memory is what tracemalloc sees allocated by Python between the first client and the
last (so the shared provider and everything loaded once is not counted), divided by
the number of extra clients; the plain SDK client is measured the same way for scale
(with 100 clients: a plain AcsClient parses its endpoint tables, ~12 ms under tracemalloc).
A few of the clients then make a call, to show they all work off the one fetch.
"""

import gc
import tracemalloc
from typing import Callable, List, Tuple

from .cloud import Cloud, describe_regions
from .figures import Figure, verdict
from .settings import Settings

TARGET_KIB = 50.0
PLAIN_CLIENTS = 100  # the plain SDK client is measured for scale only; each AcsClient parses its endpoint tables


def _per_extra_client(make: Callable[[], object], count: int) -> Tuple[float, List[object]]:
    """Bytes per client after the first, with every client alive."""
    clients = [make()]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        clients.extend(make() for _ in range(count - 1))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / max(1, count - 1), clients


def measure(cloud: Cloud, settings: Settings) -> List[Figure]:
    import oss2
    from aliyunsdkcore.client import AcsClient

    from credentials import registry
    from proxy import ProxyAcsClient, ProxyBucket

    n = settings.clients
    figures = []
    cases = (
        (
            "acs",
            "ProxyAcsClient",
            lambda: ProxyAcsClient(cloud.secret_name, region_id=cloud.region_id),
            lambda: AcsClient(*cloud.key, cloud.region_id),
            lambda c: c.do_action_with_exception(describe_regions(cloud)),
            lambda c: c.shutdown(),
            lambda c: c.session.close(),
        ),
        (
            "oss",
            "ProxyBucket",
            lambda: ProxyBucket(cloud.secret_name, cloud.oss_endpoint, cloud.bucket),
            lambda: oss2.Bucket(oss2.Auth(*cloud.key), cloud.oss_endpoint, cloud.bucket),
            lambda c: c.put_object("many-clients.txt", b"x"),
            lambda c: c.shutdown(),
            lambda c: c.session.session.close(),
        ),
    )
    for key, name, make_proxy, make_plain, use, close_proxy, close_plain in cases:
        cloud.reset_counts()
        registry.reset()  # the first client of this case fetches the secret
        proxy_bytes, proxies = _per_extra_client(make_proxy, n)
        try:
            step = max(1, n // 10)
            for client in proxies[::step] + [proxies[-1]]:
                use(client)
            fetches = cloud.count("GetSecretValue")
        finally:
            for client in proxies:
                close_proxy(client)
        del proxies
        plain_bytes, plains = _per_extra_client(make_plain, min(n, PLAIN_CLIENTS))
        for client in plains:
            close_plain(client)
        del plains
        kib, plain_kib = proxy_bytes / 1024, plain_bytes / 1024
        figures.append(
            Figure(
                f"clients_{key}",
                f"{n:,} {name}s on one secret",
                f"1 GetSecretValue; <= {TARGET_KIB:.0f} KiB per extra client",
                f"{fetches} GetSecretValue; {kib:.1f} KiB per extra client (a plain SDK client: {plain_kib:.1f} KiB)",
                verdict(fetches == 1 and kib <= TARGET_KIB),
                {
                    "clients": n,
                    "get_secret_value": fetches,
                    "kib_per_extra_client": kib,
                    "plain_kib_per_extra_client": plain_kib,
                },
            )
        )
    return figures

"""Per-call time of the proxies against the plain SDK clients, over the network (the emulator on 127.0.0.1).

Both clients of a pair send through one HTTP connection pool (the plain client's
adapter is mounted on the proxy's session too), so they take turns on the same
kept-alive connection and the same server thread. With a connection each, two
identical plain clients differ by up to 1 % from run to run (which core the server
thread of each connection runs on), which is as much as the target allows.
"""

from typing import List

from .cloud import Cloud, describe_regions
from .figures import Figure, verdict
from .interleave import fmt_ratio, interleaved
from .settings import Settings

TARGET_RATIO = 1.01
PAYLOAD = b"x" * 4096


def ratio_figure(key: str, title: str, result, calls_per_round: int) -> Figure:
    """One per-call row: the proxy's time over the plain SDK's, against the target ratio."""
    return Figure(
        key,
        title,
        f"ratio <= {TARGET_RATIO}",
        fmt_ratio(result),
        verdict(result.ratio.median <= TARGET_RATIO),
        dict(result.as_dict(), calls_per_round=calls_per_round),
    )


def acs(cloud: Cloud, settings: Settings) -> List[Figure]:
    from aliyunsdkcore.client import AcsClient

    from proxy import ProxyAcsClient

    plain = AcsClient(*cloud.key, cloud.region_id)
    proxy = ProxyAcsClient(cloud.secret_name, region_id=cloud.region_id)
    proxy.session.mount("http://", plain.session.get_adapter("http://"))
    try:
        prepare = lambda: describe_regions(cloud)  # noqa: E731
        for _ in range(min(30, settings.acs_calls)):  # warm: connections open, endpoint tables loaded
            plain.do_action_with_exception(prepare())
            proxy.do_action_with_exception(prepare())
        result = interleaved(
            plain.do_action_with_exception,
            proxy.do_action_with_exception,
            prepare,
            calls=settings.acs_calls,
            rounds=settings.acs_rounds,
        )
    finally:
        proxy.shutdown()
        plain.session.close()
    return [
        ratio_figure(
            "acs_per_call", "per-call time, ProxyAcsClient / AcsClient (DescribeRegions)", result, settings.acs_calls
        )
    ]


def oss(cloud: Cloud, settings: Settings) -> List[Figure]:
    import oss2

    from proxy import ProxyBucket

    endpoint = cloud.oss_endpoint
    plain = oss2.Bucket(oss2.Auth(*cloud.key), endpoint, cloud.bucket)
    proxy = ProxyBucket(cloud.secret_name, endpoint, cloud.bucket)
    proxy.session.session.mount("http://", plain.session.session.get_adapter("http://"))
    try:
        for _ in range(min(20, settings.oss_calls)):
            plain.put_object("plain.bin", PAYLOAD)
            proxy.put_object("proxy.bin", PAYLOAD)
            plain.get_object("plain.bin").read()
            proxy.get_object("proxy.bin").read()
        nothing = lambda: None  # noqa: E731
        put = interleaved(
            lambda _: plain.put_object("plain.bin", PAYLOAD),
            lambda _: proxy.put_object("proxy.bin", PAYLOAD),
            nothing,
            calls=settings.oss_calls,
            rounds=settings.oss_rounds,
        )
        get = interleaved(
            lambda _: _read_all(plain, "plain.bin"),
            lambda _: _read_all(proxy, "proxy.bin"),
            nothing,
            calls=settings.oss_calls,
            rounds=settings.oss_rounds,
        )
    finally:
        proxy.shutdown()
        plain.session.session.close()
    return [
        ratio_figure(key, title, result, settings.oss_calls)
        for key, title, result in (
            ("oss_put", "per-call time, ProxyBucket / oss2.Bucket (put_object 4 KiB)", put),
            ("oss_get", "per-call time, ProxyBucket / oss2.Bucket (get_object 4 KiB, read)", get),
        )
    ]


def _read_all(bucket, key: str) -> None:
    if len(bucket.get_object(key).read()) != len(PAYLOAD):
        raise AssertionError("short read")


def oss_v2(cloud: Cloud, settings: Settings) -> List[Figure]:
    """ProxyOssClient against OSS SDK V2's plain Client with a static provider (V4 signing, the SDK's default);
    both send through one RequestsHttpClient (``http_client=``), so through the same kept-alive connection."""
    import alibabacloud_oss_v2 as v2
    from alibabacloud_oss_v2.credentials import StaticCredentialsProvider

    from proxy import ProxyOssClient

    def config() -> "v2.config.Config":
        cfg = v2.config.load_default()
        cfg.region, cfg.endpoint = cloud.region_id, cloud.oss_endpoint
        return cfg

    http = v2.transport.RequestsHttpClient()
    plain = v2.Client(config(), credentials_provider=StaticCredentialsProvider(*cloud.key), http_client=http)
    proxy = ProxyOssClient(config(), cloud.secret_name, http_client=http)

    def put(client: "v2.Client", key: str) -> None:
        client.put_object(v2.PutObjectRequest(bucket=cloud.bucket, key=key, body=PAYLOAD))

    def get(client: "v2.Client", key: str) -> None:
        if len(client.get_object(v2.GetObjectRequest(bucket=cloud.bucket, key=key)).body.read()) != len(PAYLOAD):
            raise AssertionError("short read")

    try:
        for _ in range(min(20, settings.oss_calls)):
            for client, key in ((plain, "plain-v2.bin"), (proxy, "proxy-v2.bin")):
                put(client, key)
                get(client, key)
        nothing = lambda: None  # noqa: E731
        put_result = interleaved(
            lambda _: put(plain, "plain-v2.bin"),
            lambda _: put(proxy, "proxy-v2.bin"),
            nothing,
            calls=settings.oss_calls,
            rounds=settings.oss_rounds,
        )
        get_result = interleaved(
            lambda _: get(plain, "plain-v2.bin"),
            lambda _: get(proxy, "proxy-v2.bin"),
            nothing,
            calls=settings.oss_calls,
            rounds=settings.oss_rounds,
        )
    finally:
        proxy.shutdown()
        http.close()
    return [
        ratio_figure(key, title, result, settings.oss_calls)
        for key, title, result in (
            ("oss_v2_put", "per-call time, ProxyOssClient / OSS SDK V2 Client (put_object 4 KiB)", put_result),
            ("oss_v2_get", "per-call time, ProxyOssClient / OSS SDK V2 Client (get_object 4 KiB, read)", get_result),
        )
    ]


def mns(cloud: Cloud, settings: Settings) -> List[Figure]:
    """ProxyMnsAccount against aliyun-mns-sdk's Account (extra .[mns]): SendMessage. An Account is one HTTP
    connection; the proxy is given the plain account's (``mns_client.http``), so both take turns on one."""
    from mns.account import Account
    from mns.queue import Message, QueueMeta

    from proxy import ProxyMnsAccount

    plain = Account(cloud.mns_endpoint, *cloud.key)
    proxy = ProxyMnsAccount(cloud.mns_endpoint, cloud.secret_name)
    proxy.mns_client.http = plain.mns_client.http
    queues = {}
    for side, account in (("plain", plain), ("proxy", proxy)):
        queues[side] = account.get_queue("bench-" + side)
        queues[side].create(QueueMeta())
    message = Message("x" * 256)
    try:
        for _ in range(min(20, settings.oss_calls)):
            queues["plain"].send_message(message)
            queues["proxy"].send_message(message)
        result = interleaved(
            lambda _: queues["plain"].send_message(message),
            lambda _: queues["proxy"].send_message(message),
            lambda: None,
            calls=settings.oss_calls,
            rounds=settings.oss_rounds,
        )
    finally:
        proxy.shutdown()
        plain.mns_client.close_connection()
    title = "per-call time, ProxyMnsAccount / mns Account (send_message 256 B)"
    return [ratio_figure("mns_send", title, result, settings.oss_calls)]


def ots(cloud: Cloud, settings: Settings) -> List[Figure]:
    """ProxyOTSClient against tablestore's OTSClient (extra .[tablestore]): GetRow of one row, signed v2. The proxy
    sends through the plain client's connection pool (``connection``), so both use the same kept-alive connection."""
    from tablestore import CapacityUnit, Condition, OTSClient, ReservedThroughput, Row, TableMeta, TableOptions

    from proxy import ProxyOTSClient

    from .cloud import OTS_INSTANCE

    plain = OTSClient(cloud.ots_endpoint, *cloud.key, OTS_INSTANCE)
    proxy = ProxyOTSClient(cloud.ots_endpoint, instance_name=OTS_INSTANCE, secret_name=cloud.secret_name)
    proxy.connection = plain.connection
    table, key = "bench_rows", [("id", "row-1")]
    if table not in plain.list_table():
        plain.create_table(TableMeta(table, [("id", "STRING")]), TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))
    plain.put_row(table, Row(key, [("payload", "x" * 256)]), Condition("IGNORE"))

    def get(client: OTSClient) -> None:
        if client.get_row(table, key, max_version=1)[1] is None:
            raise AssertionError("row missing")

    try:
        for _ in range(min(20, settings.oss_calls)):
            get(plain)
            get(proxy)
        result = interleaved(
            lambda _: get(plain),
            lambda _: get(proxy),
            lambda: None,
            calls=settings.oss_calls,
            rounds=settings.oss_rounds,
        )
    finally:
        proxy.shutdown()
    title = "per-call time, ProxyOTSClient / tablestore OTSClient (get_row, one row)"
    return [ratio_figure("ots_get_row", title, result, settings.oss_calls)]


def sls(cloud: Cloud, settings: Settings) -> List[Figure]:
    """ProxyLogClient against a plain aliyun.log LogClient with the same key (v1 signing, the SDK's default): put_logs
    of 10 records (protobuf, lz4) and get_cursor. Both send through one HTTP adapter (the plain client's is mounted on
    the proxy's session), so through the same kept-alive connection. Both are given ``source=`` so that neither looks
    up its own address; the emulator's "<project>.127.0.0.1" names resolve in this process (loopback_names)."""
    import time

    from aliyun.log import LogClient, LogItem, PutLogsRequest

    from proxy import ProxyLogClient
    from tests.cloud.loopback_names import loopback_names

    from .cloud import SLS_LOGSTORE, SLS_PROJECT

    with loopback_names():
        plain = LogClient(cloud.sls_endpoint, *cloud.key, source="10.0.0.1")
        proxy = ProxyLogClient(cloud.sls_endpoint, cloud.secret_name, source="10.0.0.1")
        proxy._session.mount("http://", plain._session.get_adapter("http://"))

        def request() -> PutLogsRequest:
            now = int(time.time())
            items = [LogItem(timestamp=now, contents=[("n", str(n)), ("message", "x" * 100)]) for n in range(10)]
            return PutLogsRequest(SLS_PROJECT, SLS_LOGSTORE, "", "", items)

        def cursor(client: "LogClient") -> None:
            client.get_cursor(SLS_PROJECT, SLS_LOGSTORE, 0, "end")

        try:
            for _ in range(min(20, settings.oss_calls)):
                for client in (plain, proxy):
                    client.put_logs(request())
                    cursor(client)
            put = interleaved(
                plain.put_logs, proxy.put_logs, request, calls=settings.oss_calls, rounds=settings.oss_rounds
            )
            get_cursor = interleaved(
                lambda _: cursor(plain),
                lambda _: cursor(proxy),
                lambda: None,
                calls=settings.oss_calls,
                rounds=settings.oss_rounds,
            )
        finally:
            proxy.shutdown()
            plain._session.close()
    return [
        ratio_figure(key, title, result, settings.oss_calls)
        for key, title, result in (
            ("sls_put_logs", "per-call time, ProxyLogClient / LogClient (put_logs, 10 records)", put),
            ("sls_get_cursor", "per-call time, ProxyLogClient / LogClient (get_cursor)", get_cursor),
        )
    ]

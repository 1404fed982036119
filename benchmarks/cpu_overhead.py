"""CPU the proxy adds per call, with the network taken out.

Both clients get the same canned response from the same in-process adapter (see
canned.py), so no socket, no emulator and no other thread is involved: what is left
is the SDK's own work plus the proxy's. Time is the calling thread's CPU time
(``time.thread_time``), which does not count the time another process holds the core.
"""

import time
from typing import List

from .canned import adapter_classes, mount
from .cloud import Cloud, describe_regions
from .figures import Figure, verdict
from .interleave import PairedResult, interleaved
from .per_call import PAYLOAD
from .settings import Settings
from .stats import summarize

TARGET_US = 15.0
clock = time.thread_time


def acs(cloud: Cloud, settings: Settings) -> List[Figure]:
    from aliyunsdkcore.client import AcsClient

    from proxy import ProxyAcsClient

    Recording, Canned = adapter_classes("sdkcore")
    plain = AcsClient(*cloud.key, cloud.region_id)
    proxy = ProxyAcsClient(cloud.secret_name, region_id=cloud.region_id)
    try:
        recorder = Recording()
        mount(plain.session, recorder, "http://")
        plain.do_action_with_exception(describe_regions(cloud))  # one real answer, replayed from now on
        canned = Canned(recorder.recorded)
        mount(plain.session, canned)
        mount(proxy.session, canned)
        result = _measure(
            plain.do_action_with_exception,
            proxy.do_action_with_exception,
            lambda: describe_regions(cloud),
            settings,
            settings.cpu_calls,
        )
        if canned.sent < 2 * settings.cpu_calls * settings.cpu_rounds:
            raise AssertionError("a call did not go through the canned adapter")
    finally:
        proxy.shutdown()
        plain.session.close()
    return [_figure("cpu_acs", "CPU added per call, ProxyAcsClient (DescribeRegions, canned response)", result)]


def oss(cloud: Cloud, settings: Settings) -> List[Figure]:
    import oss2

    from proxy import ProxyBucket

    Recording, Canned = adapter_classes("requests")
    endpoint = cloud.oss_endpoint
    recorder = Recording()
    plain = oss2.Bucket(oss2.Auth(*cloud.key), endpoint, cloud.bucket, session=oss2.Session(adapter=recorder))
    plain.put_object("cpu.bin", PAYLOAD)
    plain.get_object("cpu.bin").read()
    canned = Canned(recorder.recorded)
    plain = oss2.Bucket(oss2.Auth(*cloud.key), endpoint, cloud.bucket, session=oss2.Session(adapter=canned))
    proxy = ProxyBucket(cloud.secret_name, endpoint, cloud.bucket, session=oss2.Session(adapter=canned))
    try:
        calls = settings.cpu_oss_calls
        put = _measure(
            lambda _: plain.put_object("cpu.bin", PAYLOAD),
            lambda _: proxy.put_object("cpu.bin", PAYLOAD),
            lambda: None,
            settings,
            calls,
        )
        get = _measure(
            lambda _: plain.get_object("cpu.bin").read(),
            lambda _: proxy.get_object("cpu.bin").read(),
            lambda: None,
            settings,
            calls,
        )
    finally:
        proxy.shutdown()
    return [
        _figure("cpu_oss_put", "CPU added per call, ProxyBucket (put_object 4 KiB, canned response)", put),
        _figure("cpu_oss_get", "CPU added per call, ProxyBucket (get_object 4 KiB, canned response)", get),
    ]


def _measure(plain, proxy, prepare, settings: Settings, calls: int) -> PairedResult:
    for _ in range(min(50, calls)):
        plain(prepare())
        proxy(prepare())
    return interleaved(plain, proxy, prepare, calls=calls, rounds=settings.cpu_rounds, clock=clock)


def _figure(key: str, title: str, result: PairedResult) -> Figure:
    """The added CPU of a round is the median, over its pairs, of (proxy call - plain call)."""
    added = [d * 1e6 for d in result.pair_differences]
    s = summarize(added)
    measured = (
        f"{s.median:+.1f} us per call (rounds {s.low:+.1f}..{s.high:+.1f}, n={s.n}); "
        f"{result.proxy.median * 1e6:.0f} vs {result.plain.median * 1e6:.0f} us CPU, "
        f"ratio {result.ratio.median:.3f}"
    )
    return Figure(
        key,
        title,
        f"<= {TARGET_US:.0f} us",
        measured,
        verdict(s.median <= TARGET_US),
        dict(result.as_dict(), added_us=s.as_dict(), added_us_rounds=added),
    )


def oss_v2(cloud: Cloud, settings: Settings) -> List[Figure]:
    """ProxyOssClient against OSS SDK V2's Client with a static provider, both on one canned requests adapter
    (``RequestsHttpClient(adapter=...)``, the SDK's own transport option)."""
    import alibabacloud_oss_v2 as v2
    from alibabacloud_oss_v2.credentials import StaticCredentialsProvider

    from proxy import ProxyOssClient

    def config() -> "v2.config.Config":
        cfg = v2.config.load_default()
        cfg.region, cfg.endpoint = cloud.region_id, cloud.oss_endpoint
        return cfg

    def over(adapter) -> "v2.transport.RequestsHttpClient":
        return v2.transport.RequestsHttpClient(adapter=adapter)

    def put(client: "v2.Client") -> None:
        client.put_object(v2.PutObjectRequest(bucket=cloud.bucket, key="cpu-v2.bin", body=PAYLOAD))

    def get(client: "v2.Client") -> None:
        client.get_object(v2.GetObjectRequest(bucket=cloud.bucket, key="cpu-v2.bin")).body.read()

    Recording, Canned = adapter_classes("requests")
    recorder = Recording()
    static = StaticCredentialsProvider(*cloud.key)
    first = v2.Client(config(), credentials_provider=static, http_client=over(recorder))
    put(first)
    get(first)
    canned = Canned(recorder.recorded)
    plain = v2.Client(config(), credentials_provider=static, http_client=over(canned))
    proxy = ProxyOssClient(config(), cloud.secret_name, http_client=over(canned))
    try:
        calls = settings.cpu_oss_calls
        put_result = _measure(lambda _: put(plain), lambda _: put(proxy), lambda: None, settings, calls)
        get_result = _measure(lambda _: get(plain), lambda _: get(proxy), lambda: None, settings, calls)
    finally:
        proxy.shutdown()
    return [
        _figure("cpu_oss_v2_put", "CPU added per call, ProxyOssClient (put_object 4 KiB, canned response)", put_result),
        _figure("cpu_oss_v2_get", "CPU added per call, ProxyOssClient (get_object 4 KiB, canned response)", get_result),
    ]

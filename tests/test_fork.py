"""After os.fork(): every proxy calls on connections of its own, keeps the HTTP settings you gave it, and no lock of
ours is inherited held.

Each test forks for real; the child reports through a pipe and always ends with os._exit; every wait is bounded.
Which connection a request came on is read off the emulator: each service here is served through `Recorded`, which
notes the client's port (and headers) of every request. A child that sends on a socket it inherited from the parent
shows up with the parent's port.
"""

import ast
import asyncio
import importlib
import json
import os
import pkgutil
import select
import signal
import ssl
import threading
import time
import traceback

import alibabacloud_oss_v2 as oss
import oss2
import pytest
import requests
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.models import Config, OpenApiRequest
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from darabonba.runtime import RuntimeOptions
from mns.queue import Message, QueueMeta
from urllib3.util.retry import Retry

import credentials
import proxy
from credentials import StaticCredentialsProvider
from proxy import (
    ManagedCredentialsClient,
    ProxyAcsClient,
    ProxyAsyncOssClient,
    ProxyBucket,
    ProxyLogClient,
    ProxyMnsAccount,
    ProxyOpenApiClient,
    ProxyOssClient,
    ProxyOTSClient,
    ProxyQueuedLogHandler,
    ProxyService,
)
from tests.cloud.ecs import EcsService
from tests.cloud.oss import OssService
from tests.cloud.sls import SlsService
from tests.cloud.tls import TestCA
from tests.helpers import DEADLINE, regions_of, wait_until
from tests.test_openapi import describe_regions_params

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

BUCKET = "bkt"


# --- the instruments ------------------------------------------------------------------------------------------------


class Recorded:
    """Serves `service` and notes, per request, the client's port (which connection it came on) and its headers."""

    def __init__(self, service):
        self._service = service
        self.seen = []  # (client port, {header: value} lower-case names, path)

    def handle(self, request):
        self.seen.append((request.client_address[1], request.lower_headers(), request.path))
        return self._service.handle(request)

    def ports(self):
        return [port for port, _, _ in self.seen]

    def __getattr__(self, name):  # name, server_header, ...: the service's own
        return getattr(self._service, name)


def serve_recorded(cloud, name, service, ca=None):
    recorded = Recorded(service)
    cloud.add_service(name, recorded, tls=ca is not None, ssl_context=ca.server_context() if ca else None)
    return recorded


def in_child(body, deadline=DEADLINE * 2):
    """Run ``body()`` in a forked child and return its (JSON) result; the child's traceback if it raised. The child
    always ends with os._exit (no atexit, no pytest teardown there); it is killed if it has not ended in time."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(read_fd)
            try:
                out = {"result": body()}
            except BaseException:  # noqa: BLE001 - reported to the parent
                out = {"error": traceback.format_exc()}
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(json.dumps(out, default=repr).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    end = time.monotonic() + deadline
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([read_fd], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                raise AssertionError("the forked child did not finish in time (a lock inherited held?)")
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > end:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
    out = json.loads(b"".join(chunks) or b'{"error": "the child sent nothing"}')
    assert "error" not in out, "in the forked child:\n" + out["error"]
    return out["result"]


def test_the_recorded_port_tells_connections_apart(cloud):
    """The instrument, with the plain SDKs: calls on one pooled connection share a port, a new session has another."""
    recorded = serve_recorded(cloud, "oss-recorded", OssService(cloud.state, cloud.region_id))
    key_id, secret = cloud.add_access_key()
    cloud.create_bucket(BUCKET)
    endpoint = cloud.endpoint("oss-recorded")
    bucket = oss2.Bucket(oss2.Auth(key_id, secret), endpoint, BUCKET)
    bucket.put_object("k", b"v")
    assert bucket.get_object("k").read() == b"v"
    other = oss2.Bucket(oss2.Auth(key_id, secret), endpoint, BUCKET, session=oss2.Session())
    assert other.get_object("k").read() == b"v"
    first, second, third = recorded.ports()
    assert first == second != third

    ecs = serve_recorded(cloud, "ecs-recorded", EcsService(cloud.state, cloud.region_id))
    client = AcsClient(key_id, secret, cloud.region_id, timeout=5, connect_timeout=2)
    for _ in range(2):
        assert "cn-hangzhou" in regions_of(client.do_action_with_exception(ecs_request(cloud)))
    assert len(set(ecs.ports())) == 1 and len(ecs.ports()) == 2


def ecs_request(cloud):
    request = CommonRequest(domain=cloud.host_of("ecs-recorded"), version="2014-05-26", action_name="DescribeRegions")
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    return request


# --- row i: the session you gave stays yours ------------------------------------------------------------------------


def add_trace_header(request):
    """An ``auth=`` callable of requests (it may change the request before it is sent)."""
    request.headers["X-Auth-Hook"] = "kept"
    return request


@pytest.mark.parametrize("proxy_class", [ProxyBucket, ProxyService])
def test_a_forked_child_keeps_the_session_you_gave_and_opens_new_connections(cloud, proxy_class):
    """ProxyBucket(..., session=s) with a private CA pinned in s, a header, an auth hook, proxies, a client
    certificate, trust_env off, a mounted adapter with its own retries and pool sizes: the child still verifies
    against the pinned CA only (a server certificate from another CA fails there as in the parent), sends the header
    and the hook's header, keeps every setting, and sends on a connection of its own (another port), while the
    parent's connection stays its own."""
    pinned_ca, other_ca = TestCA(), TestCA()
    pinned = serve_recorded(cloud, "oss-pinned", OssService(cloud.state, cloud.region_id), pinned_ca)
    serve_recorded(cloud, "oss-other-ca", OssService(cloud.state, cloud.region_id), other_ca)
    key_id, secret = cloud.add_access_key()
    cloud.create_bucket(BUCKET)

    session = oss2.Session()
    user_session = session.session  # the requests.Session the application configured
    user_session.verify = pinned_ca.ca_file
    user_session.headers["X-App-Trace"] = "fork-test"
    user_session.auth = add_trace_header
    user_session.proxies = {"ftp": "http://127.0.0.1:9"}  # a scheme never used here: only kept
    user_session.trust_env = False
    user_session.cert = (pinned_ca.cert_file, pinned_ca.key_file)  # a client certificate, offered if asked for
    retries = Retry(total=2, backoff_factor=0)
    adapter = requests.adapters.HTTPAdapter(pool_connections=3, pool_maxsize=7, max_retries=retries)
    user_session.mount("https://", adapter)

    def build(endpoint):
        if proxy_class is ProxyBucket:
            return ProxyBucket(
                credentials_provider=StaticCredentialsProvider(key_id, secret),
                endpoint=endpoint,
                bucket_name=BUCKET,
                session=session,
            )
        return ProxyService(
            credentials_provider=StaticCredentialsProvider(key_id, secret), endpoint=endpoint, session=session
        )

    def call(client):
        if proxy_class is ProxyBucket:
            return client.get_object("k").read().decode()
        return [b.name for b in client.list_buckets().buckets]

    def refused(client, read=call):
        try:
            read(client)
        except oss2.exceptions.RequestError as exc:
            return "CERTIFICATE_VERIFY_FAILED" in str(exc)
        return False

    # The plain SDK on the same session first: the pinned CA verifies one listener, and refuses the other.
    plain = oss2.Bucket(oss2.Auth(key_id, secret), cloud.endpoint("oss-pinned"), BUCKET, session=session)
    plain.put_object("k", b"v")
    plain_elsewhere = oss2.Bucket(oss2.Auth(key_id, secret), cloud.endpoint("oss-other-ca"), BUCKET, session=session)
    assert refused(plain_elsewhere, lambda bucket: bucket.get_object("k"))

    client, elsewhere = build(cloud.endpoint("oss-pinned")), build(cloud.endpoint("oss-other-ca"))
    expected = "v" if proxy_class is ProxyBucket else [BUCKET]
    assert call(client) == expected and refused(elsewhere)
    parent_port = pinned.ports()[-1]
    parent_pool = id(adapter.poolmanager)
    before = len(pinned.seen)

    def child():
        kept = client.session.session
        mounted = kept.get_adapter("https://127.0.0.1")
        return {
            "call": call(client),
            "other CA refused": refused(elsewhere),
            "same session": kept is user_session,
            "verify": kept.verify,
            "auth kept": kept.auth is add_trace_header,
            "proxies": kept.proxies,
            "trust_env": kept.trust_env,
            "cert": list(kept.cert),
            "same adapter": mounted is adapter,
            "retries": mounted.max_retries.total,
            "pool sizes": [mounted.__getstate__()[k] for k in ("_pool_connections", "_pool_maxsize")],
            "new pool": id(mounted.poolmanager) != parent_pool,
        }

    assert in_child(child) == {
        "call": expected,
        "other CA refused": True,
        "same session": True,
        "verify": pinned_ca.ca_file,
        "auth kept": True,
        "proxies": {"ftp": "http://127.0.0.1:9"},
        "trust_env": False,
        "cert": [pinned_ca.cert_file, pinned_ca.key_file],
        "same adapter": True,
        "retries": 2,
        "pool sizes": [3, 7],
        "new pool": True,
    }
    ((child_port, headers, _),) = pinned.seen[before:]  # the child's one request on the pinned listener
    assert child_port != parent_port, "the child sent on the parent's connection"
    assert headers.get("x-app-trace") == "fork-test" and headers.get("x-auth-hook") == "kept"
    assert call(client) == expected and pinned.ports()[-1] == parent_port  # the parent's connection is still its own
    client.shutdown()
    elsewhere.shutdown()


# --- row i: every proxy on connections of its own -------------------------------------------------------------------


def tea_config(cloud, **fields):
    return Config(
        endpoint=cloud.host_of("ecs-recorded"),
        protocol="http",
        region_id=cloud.region_id,
        read_timeout=5000,
        connect_timeout=3000,
        **fields,
    )


def tea_regions(response):
    return [r["RegionId"] for r in response["body"]["Regions"]["Region"]]


def v2_oss_config(cloud):
    cfg = oss.config.load_default()
    cfg.region = cloud.region_id
    cfg.endpoint = cloud.endpoint("oss-recorded")
    return cfg


def acs_client(cloud, provider):
    client = ProxyAcsClient(credentials_provider=provider, timeout=5, connect_timeout=2, pool_size=4)
    return client, lambda: regions_of(client.do_action_with_exception(ecs_request(cloud)))


def bucket(cloud, provider):
    client = ProxyBucket(credentials_provider=provider, endpoint=cloud.endpoint("oss-recorded"), bucket_name=BUCKET)
    return client, lambda: client.get_object("k").read().decode()


def service(cloud, provider):
    client = ProxyService(credentials_provider=provider, endpoint=cloud.endpoint("oss-recorded"))
    return client, lambda: [b.name for b in client.list_buckets().buckets]


def openapi_client(cloud, provider):
    client = ProxyOpenApiClient(tea_config(cloud), credentials_provider=provider)
    return client, lambda: tea_regions(client.call_api(describe_regions_params(), OpenApiRequest(), RuntimeOptions()))


def openapi_client_async(cloud, provider):
    client = ProxyOpenApiClient(tea_config(cloud), credentials_provider=provider)

    async def call():
        return tea_regions(await client.call_api_async(describe_regions_params(), OpenApiRequest(), RuntimeOptions()))

    return client, lambda: asyncio.run(call())


def plain_tea_client_on_managed_credentials(cloud, provider):
    credential = ManagedCredentialsClient(credentials_provider=provider)
    client = OpenApiClient(tea_config(cloud, credential=credential))
    return credential, lambda: tea_regions(
        client.call_api(describe_regions_params(), OpenApiRequest(), RuntimeOptions())
    )


def log_client(cloud, provider):
    from aliyun.log import ListLogstoresRequest

    client = ProxyLogClient(cloud.host_of("sls-recorded"), credentials_provider=provider, source="10.0.0.1")
    return client, lambda: client.list_logstores(ListLogstoresRequest("p")).get_logstores()


def oss_v2_client(cloud, provider):
    client = ProxyOssClient(v2_oss_config(cloud), credentials_provider=provider)
    return client, lambda: client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="k")).body.read().decode()


def oss_v2_client_on_your_session(cloud, provider):
    session = requests.Session()
    session.headers["X-App-Trace"] = "fork-test"
    http = oss.transport.RequestsHttpClient(session=session)
    client = ProxyOssClient(v2_oss_config(cloud), credentials_provider=provider, http_client=http)
    return client, lambda: client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="k")).body.read().decode()


def oss_v2_async_client(cloud, provider):
    client = ProxyAsyncOssClient(v2_oss_config(cloud), credentials_provider=provider)

    async def call():
        result = await client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="k"))
        return (await result.body.read()).decode()

    return client, lambda: asyncio.run(call())


def mns_account(cloud, provider):
    account = ProxyMnsAccount(cloud.endpoint("mns-recorded"), credentials_provider=provider)
    queue = account.get_queue("q")
    queue.create(QueueMeta())
    return account, lambda: queue.send_message(Message("m")).message_body_md5


def ots_client(cloud, provider):
    cloud.ots.create_instance("inst")
    client = ProxyOTSClient(cloud.endpoint("ots-recorded"), instance_name="inst", credentials_provider=provider)
    return client, lambda: list(client.list_table())


@pytest.mark.parametrize(
    "make",
    [
        acs_client,
        bucket,
        service,
        openapi_client,
        openapi_client_async,
        plain_tea_client_on_managed_credentials,
        oss_v2_client,
        oss_v2_client_on_your_session,
        oss_v2_async_client,
        mns_account,
        ots_client,
        log_client,
    ],
)
def test_every_proxy_calls_on_connections_of_its_own_in_a_forked_child(cloud, make, loopback_names):
    """The parent calls twice (one pooled keep-alive connection), forks; the child's call works and comes on another
    port; then the parent's next call comes on its own connection again (the child did not close or use it). The
    async clients open a connection per event loop (the SDK's): the child's call works and is on a new port."""
    recorded = {
        "ecs": serve_recorded(cloud, "ecs-recorded", EcsService(cloud.state, cloud.region_id)),
        "oss": serve_recorded(cloud, "oss-recorded", OssService(cloud.state, cloud.region_id)),
        "mns": serve_recorded(cloud, "mns-recorded", cloud.mns),  # the emulator's own: one store of queues
        "ots": serve_recorded(cloud, "ots-recorded", cloud.ots),
        "sls": serve_recorded(cloud, "sls-recorded", SlsService(cloud.state, cloud.region_id, cloud.host)),
    }
    recorded["sls"].create_logstore("p", "s")
    key_id, secret = cloud.add_access_key()
    cloud.create_bucket(BUCKET)
    oss2.Bucket(oss2.Auth(key_id, secret), cloud.endpoint("oss-recorded"), BUCKET).put_object("k", b"v")
    client, call = make(cloud, StaticCredentialsProvider(key_id, secret))
    seen = recorded[
        "ecs"
        if make in (acs_client, openapi_client, openapi_client_async, plain_tea_client_on_managed_credentials)
        else {mns_account: "mns", ots_client: "ots", log_client: "sls"}.get(make, "oss")
    ]
    expected = call()
    per_loop = make in (openapi_client_async, oss_v2_async_client)
    if not per_loop:
        assert call() == expected
        assert len(set(seen.ports()[-2:])) == 1, "the parent's two calls did not share one connection"
    parent_ports = set(seen.ports())
    before = len(seen.seen)

    assert in_child(call) == expected
    child_ports = [port for port, _, _ in seen.seen[before:]]
    assert len(child_ports) == 1 and child_ports[0] not in parent_ports, "the child sent on the parent's connection"
    if make is oss_v2_client_on_your_session:
        assert seen.seen[-1][1].get("x-app-trace") == "fork-test"  # the session you gave, on a new connection
    if not per_loop:
        assert call() == expected and seen.ports()[-1] in parent_ports
    client.shutdown()


class TrustingAdapter(requests.adapters.HTTPAdapter):
    """The usual way to give requests a TLS context of one's own: an adapter subclass that passes it to its pools."""

    def __init__(self, ssl_context, **kwargs):
        self.ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(*args, **kwargs)


@pytest.mark.parametrize("how", ["adapter subclass", "pool keywords set by hand"])
def test_an_adapters_own_tls_context_is_kept_in_a_forked_child(cloud, how):
    """A TLS context that trusts the private CA reaches the pools either through an adapter subclass or through
    init_poolmanager(..., ssl_context=) called by hand; either way the child's new pools use it."""
    ca = TestCA()
    recorded = serve_recorded(cloud, "oss-pinned", OssService(cloud.state, cloud.region_id), ca)
    key_id, secret = cloud.add_access_key()
    cloud.create_bucket(BUCKET)
    context = ssl.create_default_context(cafile=ca.ca_file)
    if how == "adapter subclass":
        adapter = TrustingAdapter(context)
    else:
        adapter = requests.adapters.HTTPAdapter()
        adapter.init_poolmanager(10, 10, ssl_context=context)
    session = oss2.Session(adapter=adapter)
    plain = oss2.Bucket(oss2.Auth(key_id, secret), cloud.endpoint("oss-pinned"), BUCKET, session=session)
    plain.put_object("k", b"v")  # the plain SDK: the context is what makes the private CA trusted
    with pytest.raises(oss2.exceptions.RequestError, match="CERTIFICATE_VERIFY_FAILED"):
        oss2.Bucket(oss2.Auth(key_id, secret), cloud.endpoint("oss-pinned"), BUCKET).get_object("k")
    bucket = ProxyBucket(
        credentials_provider=StaticCredentialsProvider(key_id, secret),
        endpoint=cloud.endpoint("oss-pinned"),
        bucket_name=BUCKET,
        session=session,
    )
    assert bucket.get_object("k").read() == b"v"
    parent_port = recorded.ports()[-1]
    assert in_child(lambda: bucket.get_object("k").read().decode()) == "v"
    assert recorded.ports()[-1] != parent_port
    bucket.shutdown()


# --- row i: no lock of ours is inherited held -----------------------------------------------------------------------

LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()), threading.Condition, threading.Semaphore)


def our_modules():
    for package in (credentials, proxy):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            try:
                yield importlib.import_module(info.name)
            except ImportError:  # an adapter whose extra is not installed
                continue


def locks_of(owner):
    return [(owner, name) for name, value in vars(owner).items() if isinstance(value, LOCK_TYPES)]


def module_and_class_locks():
    """Every lock a module of ours holds, or a class defined in one (discovered: a new one is checked too)."""
    found = []
    for module in our_modules():
        found += locks_of(module)
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == module.__name__:
                found += locks_of(value)
    return found


def free_in_a_child_forked_while_held(locks):
    """Hold every lock in another thread while this one forks; the names of those the child cannot take (it reads
    each again by name: a reset replaces the object)."""
    objects = [getattr(owner, name) for owner, name in locks]
    taken, release = threading.Event(), threading.Event()

    def holder():
        held = []
        try:
            for lock in objects:
                assert lock.acquire(timeout=DEADLINE)
                held.append(lock)
            taken.set()
            release.wait(DEADLINE * 3)
        finally:
            for lock in reversed(held):
                lock.release()

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    try:
        assert taken.wait(DEADLINE), "could not take every lock in the parent"

        def child():
            stuck = []
            for owner, name in locks:
                lock = getattr(owner, name)
                if lock.acquire(blocking=False):
                    lock.release()
                else:
                    stuck.append(f"{getattr(owner, '__qualname__', getattr(owner, '__name__', owner))}.{name}")
            return stuck

        return in_child(child)
    finally:
        release.set()
        thread.join(DEADLINE)


def test_every_module_and_class_lock_of_ours_is_free_in_a_forked_child():
    """Held by a parent's thread at the fork (notes._noted_lock, tool_logging._tool_lock, ProxyOpenApiClient's
    product lock, the registry's, the config loader's, ...): the child can take each."""
    locks = module_and_class_locks()
    names = {f"{getattr(owner, '__name__', '')}.{name}" for owner, name in locks}
    assert {
        "proxy.notes._noted_lock",
        "credentials.tool.logs._tool_lock",
        "ProxyOpenApiClient._product_lock",
    } <= names
    assert free_in_a_child_forked_while_held(locks) == []


LOCK_FACTORIES = {"Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore"}


def classes_that_make_locks():
    """(module, class) of every class of ours whose methods make a lock (a lock per object; those in a class body
    are the previous test's): read from the source, so that a new one fails the next test until it is covered."""
    found = set()
    for module in our_modules():
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())
        for cls in (node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)):
            methods = [node for node in cls.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
            calls = [node for method in methods for node in ast.walk(method) if isinstance(node, ast.Call)]
            if any(getattr(c.func, "attr", getattr(c.func, "id", None)) in LOCK_FACTORIES for c in calls):
                found.add((module.__name__, cls.name))
    return found


def test_every_object_lock_of_ours_is_free_in_a_forked_child(cloud, tmp_path):
    """The locks each provider and KMS client owns (the provider's refresh locks, the KMS clients' session locks,
    the dedicated-KMS cooldown and fallback locks, a registry entry's first-fetch condition), held by a parent's
    thread at the fork: the child can take each."""
    from credentials.managed import ManagedSecretProvider
    from tests.test_dkms_fallback import both, fallback_client

    cloud.create_secret("app-key")
    kms = fallback_client(cloud, both(cloud, tmp_path), time.monotonic)
    from credentials.registry import _Entry

    provider = ManagedSecretProvider("app-key", kms)
    handler = ProxyQueuedLogHandler("127.0.0.1:9", project="p", log_store="s", credentials_provider=provider)
    objects = [provider, kms, kms.instances, kms.regions, _Entry("app-key", provider), provider._stats]  # _Entry: a
    # registry entry; _stats: a provider's counts (status())
    objects.append(handler._shipper)  # the Log Service handler's queue (reset through the handler's fork hook)
    covered = {(cls.__module__, cls.__name__) for obj in objects for cls in type(obj).__mro__}
    missing = classes_that_make_locks() - covered
    assert not missing, f"classes that make a lock, not checked here after a fork (add an instance): {missing}"
    locks = [lock for obj in objects for lock in locks_of(obj)]
    assert len(locks) >= 5
    assert free_in_a_child_forked_while_held(locks) == []
    handler.close()


def test_a_fork_while_a_constructor_waits_for_kms_leaves_the_child_free_to_build_clients(cloud, configured):
    """A parent's thread is in ProxyAcsClient('app-key') waiting for KMS (the registry's fetch in flight) when the
    process forks: in the child, clients on that secret and on another are built, fetch and call; nothing waits for
    the parent's fetch, whose thread does not exist in the child."""
    key_id, _ = cloud.create_secret("app-key")
    other_id, _ = cloud.create_secret("other-key")
    serve_recorded(cloud, "ecs-recorded", EcsService(cloud.state, cloud.region_id))
    cloud.kms_fault(delay=2.0, times=1)
    built = []
    thread = threading.Thread(target=lambda: built.append(ProxyAcsClient("app-key", timeout=5)), daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: cloud.state.pending_fault("kms") is None), "the constructor did not reach KMS"

        def child():
            with ProxyAcsClient("app-key", timeout=5) as one, ProxyAcsClient("other-key", timeout=5) as other:
                return [regions_of(c.do_action_with_exception(ecs_request(cloud))) for c in (one, other)]

        assert all("cn-hangzhou" in regions for regions in in_child(child))
        assert cloud.count("DescribeRegions", access_key_id=key_id, code="OK") == 1
        assert cloud.count("DescribeRegions", access_key_id=other_id, code="OK") == 1
    finally:
        thread.join(DEADLINE)
    assert built and built[0].credentials_provider.get_credentials().access_key_id == key_id
    built[0].shutdown()

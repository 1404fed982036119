"""No secret in any text an exception carries (issue 19 c): what leaves a proxy call, the SDK's own exception and
everything on its chain, shows no AccessKeySecret, security token or signature in str(), repr(), args or
traceback.format_exception() (what ``logger.exception(...)`` prints), keeping its type, code and the rest of its
message.

With an STS key the plain SDKs do put the token there: aliyunsdkcore's ClientException for a connection error holds
the request URL (``SecurityToken=CAIS...&Signature=...``), so does tea's UnretryableException for an RPC-style
call, and the requests / urllib3 errors on their ``__context__`` chains (first test). Every proxy is then called
with an STS key against a closed port and against an endpoint that answers HTTP 500; the KMS client with the KMS
caller's own STS token, directly and behind a proxy that has no key yet.
"""

import asyncio
import json
import logging
import pickle
import re
import socket
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus

import alibabacloud_oss_v2 as oss
import oss2
import pytest
import tenacity
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.models import Config
from aliyun.log import LogException
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest, RoaRequest
from darabonba.runtime import RuntimeOptions
from mns.mns_exception import MNSClientNetworkException, MNSServerException
from mns.queue import Message
from tablestore import OTSClientError, OTSServiceError
from tablestore.retry import NoRetryPolicy
from Tea.exceptions import TeaException
from urllib3.exceptions import MaxRetryError

from credentials import CredentialsError, CredentialsProvider, StaticCredentialsProvider
from credentials.config import KmsEndpoint
from credentials.kms import KmsClient, KmsRequestError
from credentials.managed import ManagedSecretProvider
from credentials.masking.exception_redaction import MAX_EXCEPTIONS, redact_exception
from credentials.masking.redaction import MASK
from credentials.model import Credentials
from proxy import ProxyAcsClient, ProxyBucket, ProxyMnsAccount, ProxyOpenApiClient, ProxyOTSClient
from proxy.handlers import (
    MnsAKExpireHandler,
    OssAKExpireHandler,
    OssV2AKExpireHandler,
    OtsAKExpireHandler,
    SdkCoreAKExpireHandler,
    TeaAKExpireHandler,
)
from proxy.oss_v2 import ProxyOssClient
from proxy.oss_v2.async_client import ProxyAsyncOssClient

EcsProxy = ProxyOpenApiClient.for_product(EcsClient)
CLOSED, ANSWERS_500 = "closed port", "HTTP 500"


class _Answers500(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"Code":"InternalError","Message":"The request processing has failed due to some unknown error."}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoints():
    """host:port of a closed port, and of a server that answers every request with HTTP 500."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    try:
        yield {CLOSED: f"127.0.0.1:{closed}", ANSWERS_500: f"127.0.0.1:{server.server_address[1]}"}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def sts_key(cloud):
    key_id, secret = cloud.add_access_key(security_token=True)
    return key_id, secret, cloud.security_token_of(key_id)


def carried_exceptions(exc):
    """exc and every exception it carries: __cause__, __context__ (suppressed ones too), arguments, attributes
    (tea's inner_exception, oss2's exception, OSS SDK V2's kwargs['error'], urllib3's reason)."""
    seen, stack = [], [exc]
    while stack and len(seen) < 64:
        current = stack.pop()
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        values = [current.__cause__, current.__context__, *current.args, *vars(current).values()]
        for value in values:
            stack.extend(value.values() if isinstance(value, dict) else [value])
    return seen


def everything_an_app_sees(exc):
    """str(), repr(), args and traceback.format_exception() of each exception carried, and what
    logger.exception(...) prints for the one caught."""
    texts = []
    for error in carried_exceptions(exc):
        texts += [str(error), repr(error), repr(error.args)]
        texts += traceback.format_exception(type(error), error, error.__traceback__)
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "call failed", (), (type(exc), exc, None))
    texts.append(logging.Formatter().format(record))
    return "\n".join(texts)


def leaks(text, *secrets):
    """The secrets (raw or percent-encoded once or twice) and the signatures left unmasked in ``text``."""
    found = [
        form
        for secret in secrets
        for form in {secret, quote(secret, safe=""), quote_plus(secret), quote(quote(secret, safe=""), safe="")}
        if form in text
    ]
    return found + re.findall(r"(?:Signature|signature)(?:=|%3D|%253D)(?!\*\*\*\*)[^&\s'\"]{4}", text)


def caught(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - what the application's handler receives
        return exc
    raise AssertionError("the call succeeded")


# ---- the plain SDKs put the token in their exceptions ---------------------------------------------------------------


def test_the_plain_sdks_put_the_token_and_signature_in_their_exception_texts(cloud, endpoints, sts_key):
    """Why the proxies mask: the same calls through the plain SDKs leave the token in str() / the chain."""
    key_id, secret, token = sts_key
    plain = AcsClient(region_id=cloud.region_id, credential=StsTokenCredential(key_id, secret, token), auto_retry=False)
    request = rpc_request(endpoints[CLOSED])
    error = caught(lambda: plain.do_action_with_exception(request))
    assert type(error) is ClientException and leaks(str(error), token)
    tea = EcsClient(tea_config(cloud, endpoints[CLOSED], access_key_id=key_id, access_key_secret=secret,
                               security_token=token, signature_algorithm="v2"))  # fmt: skip
    error = caught(lambda: tea.describe_regions_with_options(ecs_models.DescribeRegionsRequest(), no_retry()))
    assert isinstance(error, TeaException) and leaks(everything_an_app_sees(error), token)


# ---- every proxy ----------------------------------------------------------------------------------------------------


def rpc_request(host):
    request = CommonRequest(domain=host, version="2014-05-26", action_name="DescribeRegions")
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    return request


def roa_request(host):
    request = RoaRequest("CS", "2015-12-15", "DescribeClusters", method="GET", uri_pattern="/clusters")
    request.set_endpoint(host)
    request.set_protocol_type("http")
    return request


def tea_config(cloud, host, **fields):
    return Config(
        endpoint=host, protocol="http", region_id=cloud.region_id, read_timeout=5000, connect_timeout=5000, **fields
    )


def no_retry():
    return RuntimeOptions(autoretry=False)


def v2_config(cloud, host):
    config = oss.config.load_default()
    config.region = cloud.region_id
    config.endpoint = "http://" + host
    config.retry_max_attempts = 1
    return config


def acs(cloud, provider, host, make_request, handler_codes):
    client = ProxyAcsClient(
        credentials_provider=provider,
        region_id=cloud.region_id,
        timeout=5,
        auto_retry=False,
        ak_expire_handler=SdkCoreAKExpireHandler(*handler_codes) if handler_codes else None,
    )
    return client, lambda: client.do_action_with_exception(make_request(host))


def bucket(cloud, provider, host, auth_version, call, handler_codes):
    client = ProxyBucket(
        credentials_provider=provider,
        endpoint="http://" + host,
        bucket_name="bkt",
        auth_version=auth_version,
        region=cloud.region_id,
        ak_expire_handler=OssAKExpireHandler(*handler_codes) if handler_codes else None,
    )
    return client, lambda: call(client)


def openapi(cloud, provider, host, algorithm, asynchronous, handler_codes):
    fields = {"signature_algorithm": algorithm} if algorithm else {}
    client = EcsProxy(
        tea_config(cloud, host, **fields),
        credentials_provider=provider,
        ak_expire_handler=TeaAKExpireHandler(*handler_codes) if handler_codes else None,
    )
    request = ecs_models.DescribeRegionsRequest()
    if asynchronous:
        return client, lambda: asyncio.run(client.describe_regions_with_options_async(request, no_retry()))
    return client, lambda: client.describe_regions_with_options(request, no_retry())


def oss_v2(cloud, provider, host, handler_codes):
    handler = OssV2AKExpireHandler(*handler_codes) if handler_codes else None
    client = ProxyOssClient(v2_config(cloud, host), credentials_provider=provider, ak_expire_handler=handler)
    return client, lambda: client.put_object(oss.PutObjectRequest(bucket="bkt", key="k", body=b"payload"))


def oss_v2_async(cloud, provider, host, handler_codes):
    handler = OssV2AKExpireHandler(*handler_codes) if handler_codes else None

    async def get():
        config = v2_config(cloud, host)
        async with ProxyAsyncOssClient(config, credentials_provider=provider, ak_expire_handler=handler) as client:
            await client.get_object(oss.GetObjectRequest(bucket="bkt", key="k"))

    return None, lambda: asyncio.run(get())


def mns(cloud, provider, host, handler_codes):
    handler = MnsAKExpireHandler(*handler_codes) if handler_codes else None
    account = ProxyMnsAccount("http://" + host, credentials_provider=provider, ak_expire_handler=handler)
    return account, lambda: account.get_queue("q").send_message(Message("payload"))


def ots(cloud, provider, host, handler_codes):
    cloud.ots.create_instance("inst")
    client = ProxyOTSClient(
        "http://" + host,
        instance_name="inst",
        credentials_provider=provider,
        retry_policy=NoRetryPolicy(),
        ak_expire_handler=OtsAKExpireHandler(*handler_codes) if handler_codes else None,
    )
    return client, lambda: client.list_table()


def log_client(cloud, provider, host, handler_codes):
    """ProxyLogClient: its project name resolved to 127.0.0.1 for the call, and LogClient's own retries (ten, a
    second apart, after a 5xx or a connection error) made without the seconds."""
    from aliyun.log import LogItem, PutLogsRequest

    from proxy import ProxyLogClient, SlsAKExpireHandler
    from tests.cloud.loopback_names import loopback_names

    handler = SlsAKExpireHandler(*handler_codes) if handler_codes else None
    client = ProxyLogClient(host, credentials_provider=provider, ak_expire_handler=handler)

    def call():
        import aliyun.log.logclient as sdk

        real_time = sdk.time
        sdk.time = type(
            "NoSleep", (), {"sleep": staticmethod(lambda seconds: None), "time": staticmethod(real_time.time)}
        )
        try:
            with loopback_names():
                client.put_logs(PutLogsRequest("p", "s", "", "", [LogItem(contents=[("k", "v")])]))
        finally:
            sdk.time = real_time

    return client, call


def signed_url_get(client):
    return client.get_object_with_url(client.sign_url("GET", "k", 60))


QUOTED = "the service quotes the string to sign"  # a wrong secret: the real cloud, and the emulator, do that


def code_of(error):
    getter = getattr(error, "get_error_code", None)
    if callable(getter):
        return getter()
    if isinstance(error, MNSServerException):
        return error.type  # aliyun-mns-sdk's name for the service's code
    unwrap = getattr(error, "unwrap", None)
    return getattr(unwrap() if callable(unwrap) else error, "code", None)


def acs_expected(masked):
    return {
        CLOSED: (ClientException, "SDK.HttpError", masked),
        ANSWERS_500: (ServerException, "InternalError", None),
        QUOTED: (ServerException, "SignatureDoesNotMatch", "SecurityToken%3D" + MASK),
    }


def oss_expected(masked_closed, masked_quoted):
    return {
        CLOSED: (oss2.exceptions.RequestError, None, masked_closed),
        ANSWERS_500: (oss2.exceptions.ServerError, None, None),
        QUOTED: (oss2.exceptions.ServerError, "SignatureDoesNotMatch", masked_quoted),
    }


def tea_expected(masked_closed, masked_quoted):
    return {
        CLOSED: (TeaException, None, masked_closed),  # tea's UnretryableException
        ANSWERS_500: (TeaException, "InternalError", None),
        QUOTED: (TeaException, "SignatureDoesNotMatch", masked_quoted),
    }


V2_EXPECTED = {
    CLOSED: (oss.exceptions.OperationError, None, None),
    ANSWERS_500: (oss.exceptions.OperationError, None, None),
    QUOTED: (oss.exceptions.OperationError, "SignatureDoesNotMatch", None),
}
TEA_QUOTED = "SecurityToken%3D" + MASK
SLS_EXPECTED = {  # Log Service signs in headers: its errors quote no URL token (a quoted one is masked: below)
    CLOSED: (LogException, "LogRequestError", None),
    ANSWERS_500: (LogException, "LogRequestError", None),
    QUOTED: (LogException, "SignatureNotMatch", None),
}

# proxy -> (how to build it and its call, the emulator service it calls, {where: (the SDK type the caller gets,
# its code, a text showing that the secret was there and is masked, not dropped)})
PROXIES = {
    "ProxyAcsClient RPC": (lambda *a: acs(*a[:3], rpc_request, a[3]), "ecs", acs_expected("SecurityToken=" + MASK)),
    "ProxyAcsClient ROA": (
        lambda *a: acs(*a[:3], roa_request, a[3]),
        "cs",
        dict(
            acs_expected(None), **{QUOTED: (ServerException, "SignatureDoesNotMatch", "x-acs-security-token:" + MASK)}
        ),
    ),
    "ProxyBucket V1": (
        lambda *a: bucket(*a[:3], "v1", lambda b: b.put_object("k", b"payload"), a[3]),
        "oss",
        oss_expected(None, "x-oss-security-token:" + MASK),
    ),
    "ProxyBucket V4": (
        lambda *a: bucket(*a[:3], "v4", lambda b: b.get_object("k"), a[3]),
        "oss",
        oss_expected(None, "x-oss-security-token:" + MASK),
    ),
    "ProxyBucket V1 signed URL": (
        lambda *a: bucket(*a[:3], "v1", signed_url_get, a[3]),
        "oss",
        oss_expected("security-token=" + MASK, "security-token=" + MASK),
    ),
    "ProxyBucket V4 signed URL": (
        lambda *a: bucket(*a[:3], "v4", signed_url_get, a[3]),
        "oss",
        oss_expected("x-oss-security-token=" + MASK, None),
    ),
    "ProxyOpenApiClient ACS3": (lambda *a: openapi(*a[:3], None, False, a[3]), "ecs", tea_expected(None, None)),
    "ProxyOpenApiClient RPC": (
        lambda *a: openapi(*a[:3], "v2", False, a[3]),
        "ecs",
        tea_expected("SecurityToken=" + MASK, TEA_QUOTED),
    ),
    "ProxyOpenApiClient ACS3 async": (lambda *a: openapi(*a[:3], None, True, a[3]), "ecs", tea_expected(None, None)),
    "ProxyOpenApiClient RPC async": (
        lambda *a: openapi(*a[:3], "v2", True, a[3]),
        "ecs",
        tea_expected(None, TEA_QUOTED),
    ),
    "ProxyMnsAccount": (
        mns,
        "mns",
        {
            CLOSED: (MNSClientNetworkException, None, None),
            ANSWERS_500: (MNSClientNetworkException, None, None),  # "RespDataDamaged": the answer is not XML
            QUOTED: (MNSServerException, "SignatureDoesNotMatch", None),
        },
    ),
    "ProxyOTSClient": (
        ots,
        "ots",
        {
            CLOSED: (MaxRetryError, None, None),  # tablestore lets urllib3's error through
            ANSWERS_500: (OTSClientError, None, None),
            QUOTED: (OTSServiceError, "OTSAuthFailed", None),
        },
    ),
    "ProxyOssClient": (oss_v2, "oss", V2_EXPECTED),
    "ProxyLogClient": (log_client, "sls", SLS_EXPECTED),
    "ProxyAsyncOssClient": (oss_v2_async, "oss", V2_EXPECTED),
}


class NewStsKeyEveryRefresh(CredentialsProvider):
    """Each refresh brings another STS key of the emulator, signed with a wrong secret (so every request fails with
    SignatureDoesNotMatch, quoting its string to sign); every token and secret handed out is kept in ``issued``."""

    def __init__(self, cloud):
        self._cloud, self.issued = cloud, []
        self._credentials = self.refresh()

    def get_credentials(self):
        return self._credentials

    def refresh(self, stale=None):
        key_id, secret = self._cloud.add_access_key(security_token=True)
        token = self._cloud.security_token_of(key_id)
        self.issued += [secret, token]
        self._credentials = Credentials(key_id, "wrong" + secret, token)
        return self._credentials


def failed_call(cloud, endpoints, sts_key, proxy, where, provider=None, handler_codes=()):
    """What the caller's ``except`` block gets from one call of ``proxy`` made with an STS key."""
    key_id, secret, token = sts_key
    make, service, _ = PROXIES[proxy]
    if where == QUOTED:
        cloud.create_bucket("bkt")
        provider = provider or StaticCredentialsProvider(key_id, "wrong" + secret, token)
        host = cloud.host_of(service)
    else:
        provider, host = StaticCredentialsProvider(key_id, secret, token), endpoints[where]
    client, call = make(cloud, provider, host, handler_codes)
    try:
        return caught(call)
    finally:
        if client is not None:
            client.shutdown()


@pytest.mark.parametrize("where", [CLOSED, ANSWERS_500, QUOTED])
@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_no_token_or_signature_in_what_a_failed_proxy_call_raises(cloud, endpoints, sts_key, proxy, where):
    error_type, code, masked = PROXIES[proxy][2][where]
    error = failed_call(cloud, endpoints, sts_key, proxy, where)
    assert isinstance(error, error_type), (type(error), error)
    assert not type(error).__module__.startswith(("credentials", "proxy"))  # the SDK's own class
    assert code is None or code_of(error) == code, (code_of(error), error)
    seen = everything_an_app_sees(error)
    assert not leaks(seen, sts_key[2], sts_key[1]), leaks(seen, sts_key[2], sts_key[1])
    if masked:  # the request (URL, string to sign) is still there, with its token masked
        assert masked in seen, seen[:2000]


@pytest.mark.parametrize(
    "proxy",
    [
        "ProxyAcsClient RPC",
        "ProxyBucket V1",
        "ProxyOpenApiClient RPC",
        "ProxyOpenApiClient RPC async",
        "ProxyOssClient",
        "ProxyMnsAccount",
        "ProxyLogClient",
    ],
)
def test_an_error_raised_after_a_reissue_carries_no_token_either(cloud, endpoints, sts_key, proxy):
    """An expire handler that counts SignatureDoesNotMatch as a rotated key: the call is re-issued twice with new
    keys, then the service's error leaves through the Reissuer: masked there too."""
    error_type, code, masked = PROXIES[proxy][2][QUOTED]
    provider = NewStsKeyEveryRefresh(cloud)
    error = failed_call(cloud, endpoints, sts_key, proxy, QUOTED, provider, handler_codes=(code,))
    assert isinstance(error, error_type) and code_of(error) == code
    assert cloud.count(code=code) == 3 and len(provider.issued) == 6  # the first call, 2 re-issues
    seen = everything_an_app_sees(error)
    assert not leaks(seen, *provider.issued), leaks(seen, *provider.issued)
    assert masked is None or masked in seen


class _QuotesItsStringToSign(BaseHTTPRequestHandler):
    """A Log Service answering 401 SignatureNotMatch with a message that quotes the request's signed headers, as OSS
    and the ROA gateways quote their string to sign (the token among them)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        quoted = "\n".join(f"{k.lower()}:{v}" for k, v in sorted(self.headers.items()) if k.lower().startswith("x-"))
        body = json.dumps(
            {"errorCode": "SignatureNotMatch", "errorMessage": "string to sign: POST\n" + quoted}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_log_exception_quoting_the_token_leaves_a_proxy_log_client_masked(sts_key):
    """LogException keeps the service's message (and the raw body) in its own attributes: both are masked in what
    ProxyLogClient raises, at once and after a re-issue; code, status and request id are kept."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _QuotesItsStringToSign)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for codes in ((), ("SignatureNotMatch",)):
            client, call = log_client(
                None, StaticCredentialsProvider(*sts_key), f"127.0.0.1:{server.server_address[1]}", codes
            )
            error = caught(call)
            client.shutdown()
            assert isinstance(error, LogException) and (error.get_error_code(), error.resp_status) == (
                "SignatureNotMatch",
                401,
            )
            seen = everything_an_app_sees(error) + repr(error.get_error_message()) + repr(error.get_resp_body())
            assert not leaks(seen, sts_key[2], sts_key[1]), leaks(seen, sts_key[2], sts_key[1])
            assert "x-acs-security-token:" + MASK in error.get_error_message()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class FailsQuotingItsUrl(CredentialsProvider):
    """An application's own provider whose failure quotes the URL it fetched from, token and all (in its message
    and on its __context__): no key, so each proxy raises its typed "no key" error with this on its chain."""

    def __init__(self, token):
        self.url = f"http://credentials.internal/?SecurityToken={quote(token, safe='')}&Signature=c2lnbmF0dXJlIQ%3D%3D"

    def get_credentials(self):
        try:
            raise OSError(f"connection refused: GET {self.url}")
        except OSError as exc:
            raise CredentialsError(f"cannot fetch from {self.url}: {exc}") from None

    def refresh(self, stale=None):
        return self.get_credentials()


@pytest.mark.parametrize(
    "proxy",
    [
        "ProxyAcsClient RPC",
        "ProxyBucket V4",
        "ProxyOpenApiClient RPC",
        "ProxyOssClient",
        "ProxyMnsAccount",
        "ProxyOTSClient",
        "ProxyLogClient",
    ],
)
def test_a_no_key_error_carries_no_token_from_the_providers_failure(cloud, endpoints, sts_key, proxy):
    make, service, _ = PROXIES[proxy]
    cloud.create_bucket("bkt")
    client, call = make(cloud, FailsQuotingItsUrl(sts_key[2]), cloud.host_of(service), ())
    try:
        error = caught(call)
    finally:
        client.shutdown()
    assert isinstance(error, CredentialsError) and "cannot fetch from http://credentials.internal/" in str(error)
    seen = everything_an_app_sees(error)
    assert "SecurityToken=" + MASK in seen and not leaks(seen, sts_key[2]), leaks(seen, sts_key[2])


# ---- the KMS client, with the KMS caller's own STS token ------------------------------------------------------------


def kms_client(cloud, host, provider):
    return KmsClient(
        [KmsEndpoint(cloud.region_id, host, "http")],
        provider,
        attempts=2,
        connect_timeout=2,
        read_timeout=2,
        wait=tenacity.wait_none(),
    )


@pytest.mark.parametrize("where", [CLOSED, ANSWERS_500])
def test_a_kms_error_carries_no_token_of_the_kms_caller(cloud, endpoints, sts_key, where):
    """The KmsRequestError's suppressed __context__ (kept, and walked by exception_chain()) is the requests
    ConnectionError (and the urllib3 errors under it) whose texts held the KMS caller's token: masked."""
    key_id, secret, token = sts_key
    client = kms_client(cloud, endpoints[where], StaticCredentialsProvider(key_id, secret, token))
    error = caught(lambda: client.get_secret_value("app-key"))
    assert isinstance(error, KmsRequestError) and error.code == (
        "SDK.HttpError" if where == CLOSED else "InternalError"
    )
    seen = everything_an_app_sees(error)
    assert not leaks(seen, token, secret), leaks(seen, token, secret)
    if where == CLOSED:
        assert isinstance(error.__context__, IOError) and "SecurityToken=" + MASK in str(error.__context__)


def test_a_proxy_without_a_key_raises_no_token_of_the_kms_caller(cloud, endpoints, sts_key):
    """KMS unreachable before the first key: the ClientException the call raises (also a CredentialsError) has the
    KmsRequestError as __cause__, whose chain held the KMS caller's token."""
    key_id, secret, token = sts_key
    provider = ManagedSecretProvider(
        "app-key", kms_client(cloud, endpoints[CLOSED], StaticCredentialsProvider(key_id, secret, token))
    )
    client = ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id, timeout=5)
    try:
        error = caught(lambda: client.do_action_with_exception(rpc_request(cloud.ecs_host)))
    finally:
        client.shutdown()
        provider.close()
    assert isinstance(error, ClientException) and isinstance(error, CredentialsError)
    assert error.get_error_code() == "ManagedCredentials.Unavailable" and error.code == "SDK.HttpError"
    seen = everything_an_app_sees(error)
    assert "SecurityToken=" + MASK in seen and not leaks(seen, token, secret), leaks(seen, token, secret)


# ---- redact_exception itself ----------------------------------------------------------------------------------------

TOKEN = "CAISZx9+/Zx9+/Zx9+/Zx9="


class UrlError(Exception):
    """Formats an object it does not hold as text: masking its attributes is not enough."""

    def __init__(self, code, request=None):
        super().__init__(code)
        self.code, self.request = code, request

    def __str__(self):
        return f"{self.code}: {self.request.url}"


class Request:
    def __init__(self, url):
        self.url = url

    def __repr__(self):
        return f"Request({self.url!r})"


def test_text_attributes_and_args_are_masked_and_type_code_and_status_are_kept():
    details = {"SecurityToken": TOKEN, "RequestId": "r-1"}
    error = ClientException("SDK.HttpError", f"GET /?SecurityToken={quote(TOKEN, safe='')}&Action=X failed")
    error.status, error.details, error.body = 502, details, f'{{"AccessKeySecret":"{TOKEN}"}}'.encode()
    if hasattr(error, "add_note"):
        error.add_note(f"retried with SecurityToken={TOKEN}")
    else:  # before Python 3.11: the attribute add_note keeps, which traceback prints from 3.11 on
        error.__notes__ = [f"retried with SecurityToken={TOKEN}"]
    assert redact_exception(error) is error
    assert type(error) is ClientException and error.get_error_code() == "SDK.HttpError" and error.status == 502
    assert error.get_error_msg() == f"GET /?SecurityToken={MASK}&Action=X failed"
    assert error.details == {"SecurityToken": MASK, "RequestId": "r-1"} and details["SecurityToken"] == TOKEN
    assert error.body == b'{"AccessKeySecret":"****"}' and error.__notes__ == [f"retried with SecurityToken={MASK}"]
    assert not leaks(everything_an_app_sees(error), TOKEN)


def test_the_chain_is_masked_in_place_and_bounded():
    inner = OSError(111, f"refused: http://h/?SecurityToken={TOKEN}")  # a ConnectionRefusedError (built in)
    middle = ConnectionError(inner)
    outer = ClientException("SDK.HttpError", "x")
    outer.__context__, middle.__cause__, inner.__context__ = middle, inner, outer  # a cycle ends
    redact_exception(outer)
    assert (
        type(inner) is ConnectionRefusedError
        and inner.errno == 111
        and TOKEN not in str(inner)
        and middle.args[0] is inner
    )
    errors = [ValueError(f"SecurityToken={TOKEN}") for _ in range(MAX_EXCEPTIONS + 10)]
    for error, context in zip(errors, errors[1:]):
        error.__context__ = context
    redact_exception(errors[0])
    masked = [TOKEN not in str(error) for error in errors]
    assert masked == [True] * MAX_EXCEPTIONS + [False] * 10  # a chain longer than any SDK's is cut, not walked


def test_an_exception_that_formats_an_object_moves_to_a_masking_subclass_that_pickles_as_its_class():
    error = UrlError("SDK.HttpError", Request(f"http://h/?SecurityToken={TOKEN}"))
    redact_exception(error)
    assert isinstance(error, UrlError) and type(error).__name__ == "UrlError" and error.code == "SDK.HttpError"
    assert str(error) == f"SDK.HttpError: http://h/?SecurityToken={MASK}" and TOKEN not in repr(error)
    printed = traceback.format_exception(type(error), error, error.__traceback__)
    assert not leaks("".join(printed), TOKEN)
    assert "UrlError: SDK.HttpError" in printed[-1]  # the same name in tracebacks
    assert type(pickle.loads(pickle.dumps(error))) is UrlError
    clean = UrlError("Code", Request("http://h/"))
    assert type(redact_exception(clean)) is UrlError  # nothing to mask: nothing changes

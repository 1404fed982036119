"""No token in the SDKs' own logs (issue 11 a): with DEBUG on the root logger (and tea's DEBUG=sdk), STS keys used by
ProxyAcsClient, ProxyBucket (V1 and V4 signing) and ProxyOpenApiClient (ACS3 and RPC signing), through a failed call
and a revocation, leave no secret and no token in any log record (formatted with its arguments), in stdout or stderr,
or in any exception text. The SDKs do log those requests (checked): the values are masked, the rest is kept."""

import ast
import io
import json
import logging
import os
import traceback
import warnings

import oss2
import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.request import CommonRequest
from darabonba.runtime import RuntimeOptions
from mns.mns_exception import MNSServerException
from mns.queue import Message, QueueMeta
from tablestore import OTSClientError, OTSServiceError
from Tea.exceptions import TeaException

from credentials import StaticCredentialsProvider
from credentials.masking.redaction import MASK, SDK_LOGGERS, SdkLogRedactor, covered, install_sdk_log_redaction, redact
from credentials.tool.provider import CredentialsToolProvider
from proxy import ProxyAcsClient, ProxyBucket, ProxyMnsAccount, ProxyOpenApiClient, ProxyOTSClient
from tests.helpers import bad_parameter_request, describe_regions
from tests.test_openapi import config as tea_config
from tests.test_reliability import emulator_secrets

EcsProxy = ProxyOpenApiClient.for_product(EcsClient)
BUCKET = "redaction"


@pytest.fixture
def debug_everywhere(caplog, monkeypatch, cloud, tmp_path):
    """DEBUG on the root logger, as logging.basicConfig(level=DEBUG) does; tea's DEBUG=sdk header dumps; the test
    CA trusted by the Credentials tool (the emulator's STS is https)."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DEBUG", "sdk")
    monkeypatch.setenv("SSL_CERT_FILE", cloud.sts.ca_file)
    monkeypatch.setenv("HOME", str(tmp_path))
    return caplog


@pytest.fixture
def tea_dump():
    """What tea / darabonba print with DEBUG=sdk. They print through a StreamHandler of their own, made at import
    with the sys.stderr of that moment (pytest's, during collection): it is pointed at a buffer for the test."""
    buffer = io.StringIO()
    handlers = [
        h
        for name in ("darabonba-core", "alibabacloud-tea")
        for h in logging.getLogger(name).handlers
        if type(h) is logging.StreamHandler
    ]
    assert handlers, "tea and darabonba no longer print DEBUG=sdk output through a StreamHandler of their own"
    previous = [h.setStream(buffer) for h in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous):
        handler.setStream(stream)


def sts_key_provider(cloud):
    key_id, secret = cloud.add_access_key(security_token=True)
    return StaticCredentialsProvider(key_id, secret, cloud.security_token_of(key_id))


def ram_role_provider(cloud):
    key_id, secret = cloud.add_access_key()
    return CredentialsToolProvider(
        {
            "type": "ram_role_arn",
            "access_key_id": key_id,
            "access_key_secret": secret,
            "role_arn": cloud.sts.role_arn(),
            "role_session_name": "redaction",
            "sts_endpoint": cloud.sts.host,
        }
    )


def revoke(cloud, provider):
    """The key in use stops working: an STS session expires (healed by a new AssumeRole), a fixed key is deleted
    (nothing to heal with: the call fails with the service's error)."""
    key_id = provider.get_credentials().access_key_id
    if isinstance(provider, CredentialsToolProvider):
        cloud.sts.expire(key_id)
    else:
        cloud.revoke_key(key_id)


def exercise(cloud, provider, seen):
    """Every client, a good call, a failed call, then a revocation and calls across it; exceptions noted."""

    def attempt(call):
        try:
            call()
        except (ServerException, oss2.exceptions.OssError, TeaException) as exc:
            seen.append(exc)

    acs = ProxyAcsClient(credentials_provider=provider, region_id=cloud.region_id, timeout=5)
    buckets = [
        ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name=BUCKET),
        ProxyBucket(
            credentials_provider=provider,
            endpoint=cloud.oss_endpoint,
            bucket_name=BUCKET,
            auth_version="v4",
            region=cloud.region_id,
        ),
    ]
    tea = [
        EcsProxy(tea_config(cloud), credentials_provider=provider),
        EcsProxy(tea_config(cloud, signature_algorithm="v2"), credentials_provider=provider),
    ]
    calls = [lambda: acs.do_action_with_exception(describe_regions(cloud))]
    calls += [lambda b=b: (b.put_object("obj", b"payload"), b.get_object("obj").read()) for b in buckets]
    calls += [
        lambda t=t: t.describe_regions_with_options(ecs_models.DescribeRegionsRequest(), RuntimeOptions()) for t in tea
    ]
    failing = [
        lambda: acs.do_action_with_exception(bad_parameter_request(cloud)),
        lambda: buckets[0].get_object("no-such-object"),
        lambda: tea[0].describe_instances_with_options(
            ecs_models.DescribeInstancesRequest(region_id=cloud.region_id, page_size=1000), RuntimeOptions()
        ),
    ]
    for call in calls + failing:
        attempt(call)
    for call in calls:
        revoke(cloud, provider)
        attempt(call)
    seen.extend([acs, provider, provider.get_credentials(), *buckets, *tea])
    for client in (acs, *buckets, *tea):
        client.shutdown()


def everything_seen(caplog, capfd, seen):
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = [r for r in caplog.records if not r.name.startswith("tests.cloud")]  # the emulator is the cloud
    texts = [formatter.format(r) for r in records]
    for thing in seen:
        if isinstance(thing, BaseException):
            texts.append("".join(traceback.format_exception(type(thing), thing, thing.__traceback__)))
        texts += [str(thing), repr(thing)]
    out, err = capfd.readouterr()
    return records, "\n".join(texts), out, err


@pytest.mark.parametrize("make_provider", [sts_key_provider, ram_role_provider], ids=["static-sts", "ram_role_arn"])
def test_no_token_or_secret_in_any_output_of_the_sdks_with_debug_on(
    cloud, debug_everywhere, tea_dump, capfd, make_provider
):
    cloud.create_bucket(BUCKET)
    provider = make_provider(cloud)
    seen = []
    exercise(cloud, provider, seen)
    records, text, out, err = everything_seen(debug_everywhere, capfd, seen)
    secrets = emulator_secrets(cloud)
    assert provider.get_credentials().security_token in secrets  # every key and token the emulator issued
    dump = tea_dump.getvalue()
    outputs = (("log records", text), ("stdout", out), ("stderr", err), ("tea's DEBUG=sdk output", dump))
    found = sorted({where for where, blob in outputs for secret in secrets if secret in blob})
    assert not found, f"a secret or token appeared in: {found}"
    # The leak paths were exercised, and masked rather than dropped:
    logged = {r.name for r in records if MASK in r.getMessage()}
    for name in ("aliyunsdkcore.client", "oss2.auth", "oss2.http", "darabonba-core"):
        assert name in logged, (name, sorted(logged))
    assert any(r.name.startswith("urllib3") and "SecurityToken=" + MASK in r.getMessage() for r in records)
    assert "SecurityToken=" + MASK in dump and "Signature=" + MASK in dump  # tea's DEBUG=sdk dump, its own handler
    assert cloud.count(code="OK", service="oss") >= 4 and cloud.count("DescribeRegions", code="OK") >= 3


@pytest.mark.parametrize("make_provider", [sts_key_provider, ram_role_provider], ids=["static-sts", "ram_role_arn"])
def test_no_token_or_secret_in_the_logs_of_message_service_and_tablestore_with_debug_on(
    cloud, debug_everywhere, capfd, make_provider
):
    """aliyun-mns-sdk logs every request's headers (Authorization, security-token) at DEBUG on the logger the
    application gives Account; tablestore logs them (x-ots-ststoken, x-ots-signature) on its own logger or the one
    named by logger_name=. Through good calls, failing ones and a revocation (healed when the provider can refresh),
    no secret or token is in any record, output or exception text; the headers are there, masked."""
    cloud.ots.create_instance("inst")
    provider = make_provider(cloud)
    account = ProxyMnsAccount(cloud.mns_endpoint, credentials_provider=provider, logger=logging.getLogger("app.mns"))
    tables = ProxyOTSClient(cloud.ots_endpoint, instance_name="inst", credentials_provider=provider)
    named = ProxyOTSClient(
        cloud.ots_endpoint, instance_name="inst", credentials_provider=provider, logger_name="app.ots"
    )
    queue = account.get_queue("q")
    seen = []

    def attempt(call):
        try:
            call()
        except (MNSServerException, OTSServiceError, OTSClientError) as exc:
            seen.append(exc)

    calls = [lambda: queue.create(QueueMeta()), lambda: queue.send_message(Message("m")), tables.list_table]
    calls.append(named.list_table)
    failing = [lambda: account.get_queue("nowhere").send_message(Message("x")), lambda: tables.describe_table("no")]
    for call in calls + failing:
        attempt(call)
    for call in calls:
        revoke(cloud, provider)
        attempt(call)
    seen.extend([account, tables, named, account.credentials_provider.get_credentials()])
    for client in (account, tables, named):
        client.shutdown()
    records, text, out, err = everything_seen(debug_everywhere, capfd, seen)
    secrets = emulator_secrets(cloud)
    found = sorted(
        {where for where, blob in (("records", text), ("stdout", out), ("stderr", err)) for s in secrets if s in blob}
    )
    assert not found, f"a secret or token appeared in: {found}"
    logged = {r.name for r in records if MASK in r.getMessage()}
    assert {"app.mns", "tablestore-client", "app.ots"} <= logged, sorted(logged)
    assert any("security-token: " + MASK in r.getMessage() for r in records if r.name == "app.mns")
    assert any("'x-ots-ststoken': '%s'" % MASK in r.getMessage() for r in records if r.name == "tablestore-client")
    assert cloud.count("SendMessage", code="OK") >= 1 and cloud.count("ListTable", code="OK") >= 2


# ---- the filter itself ----------------------------------------------------------------------------------------------

TOKEN = "CAIS" + "Zx9+/" * 20 + "="


@pytest.mark.parametrize(
    "text, kept",
    [
        (
            f"Params: {{'SecurityToken': '{TOKEN}', 'SignatureMethod': 'HMAC-SHA1', 'Signature': 'c2ln+PQ=='}}",
            "Params: {'SecurityToken': '****', 'SignatureMethod': 'HMAC-SHA1', 'Signature': '****'}",
        ),
        (
            f'{{"AccessKeyId":"STS.x","AccessKeySecret":"s3cr3tvalue","SecurityToken":"{TOKEN}"}}',
            '{"AccessKeyId":"STS.x","AccessKeySecret":"****","SecurityToken":"****"}',
        ),
        (
            f"GET /?Action=DescribeRegions&SecurityToken={TOKEN}&Signature=ab%2Bcd%3D&SignatureNonce=7 HTTP/1.1",
            "GET /?Action=DescribeRegions&SecurityToken=****&Signature=****&SignatureNonce=7 HTTP/1.1",
        ),
        (
            "server string to sign is:GET&%2F&AccessKeyId%3DSTS.x%26SecurityToken%3DCAIS%252Bx"
            "%26SignatureMethod%3DHMAC",
            "server string to sign is:GET&%2F&AccessKeyId%3DSTS.x%26SecurityToken%3D****%26SignatureMethod%3DHMAC",
        ),
        (
            f"Make signature: string to be signed = PUT\n\n\nx-oss-security-token:{TOKEN}\n/b/o",
            "Make signature: string to be signed = PUT\n\n\nx-oss-security-token:****\n/b/o",
        ),
        (
            "{'authorization': 'OSS STS.x:Zm9vYmFyYmF6cXV4cXV1eA==', 'date': 'Tue'}",
            "{'authorization': 'OSS STS.x:****', 'date': 'Tue'}",
        ),
        (
            "OSS4-HMAC-SHA256 Credential=STS.x/20261201/cn-hangzhou/oss/aliyun_v4_request,Signature=0a1b2c3d4e5f",
            "OSS4-HMAC-SHA256 Credential=STS.x/20261201/cn-hangzhou/oss/aliyun_v4_request,Signature=****",
        ),
        (
            "ACS3-HMAC-SHA256 Credential=STS.x,SignedHeaders=host;x-acs-date,Signature=0a1b2c3d4e5f",
            "ACS3-HMAC-SHA256 Credential=STS.x,SignedHeaders=host;x-acs-date,Signature=****",
        ),
        (
            f"\n> x-acs-security-token : {TOKEN}\n> authorization : acs STS.x:Zm9vYmFyYmF6cXV4cXV1eA==",
            "\n> x-acs-security-token : ****\n> authorization : acs STS.x:****",
        ),
        (
            "?OSSAccessKeyId=STS.x&Expires=9&Signature=ab%2Fcd&security-token=CAIS%2Bx",
            "?OSSAccessKeyId=STS.x&Expires=9&Signature=****&security-token=****",
        ),
        (
            "x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-signature=0a1b&x-oss-security-token=CAISx",
            "x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-signature=****&x-oss-security-token=****",
        ),
        (  # a KMS GetSecretValue body: the managed key is JSON escaped inside SecretData
            '{"SecretData":"{\\"AccessKeyId\\":\\"LTAIx\\",\\"AccessKeySecret\\":\\"s3cr3tvalue\\"}"}',
            '{"SecretData":"{\\"AccessKeyId\\":\\"LTAIx\\",\\"AccessKeySecret\\":\\"****\\"}"}',
        ),
        (  # the same body as aliyunsdkcore logs it: the repr of bytes doubles each backslash
            'b\'{"SecretData":"{\\\\"AccessKeySecret\\\\":\\\\"s3cr3tvalue\\\\"}"}\'',
            'b\'{"SecretData":"{\\\\"AccessKeySecret\\\\":\\\\"****\\\\"}"}\'',
        ),
        (
            f"<Credentials><SecurityToken>{TOKEN}</SecurityToken><AccessKeySecret>s3cr3t</AccessKeySecret>",
            "<Credentials><SecurityToken>****</SecurityToken><AccessKeySecret>****</AccessKeySecret>",
        ),
        (
            f"[('x-oss-security-token', '{TOKEN}'), ('date', 'Tue')]",
            "[('x-oss-security-token', '****'), ('date', 'Tue')]",
        ),
        (
            "q=%7B%22AccessKeySecret%22%3A+%22s3cr3t%2Bv%22%2C+%22AccessKeyId%22%3A+%22LTAIx%22%7D",
            "q=%7B%22AccessKeySecret%22%3A+%22****%22%2C+%22AccessKeyId%22%3A+%22LTAIx%22%7D",
        ),
        ('{"KeyId":"KAAP.x","PrivateKeyData":"MIIJqQIBAzCCCW8G"}', '{"KeyId":"KAAP.x","PrivateKeyData":"****"}'),
        (
            "GET http://svc:pa55w0rd@127.0.0.1:8080/credentials?auth_token=t0ken&role=app",
            "GET http://svc:****@127.0.0.1:8080/credentials?auth_token=****&role=app",
        ),
        (  # aliyun-mns-sdk's DEBUG "SendRequest": its request headers, one per line
            f"Header: Authorization: MNS STS.x:Zm9vYmFyYmF6cXV4cXV1eA==\nsecurity-token: {TOKEN}\nx-mns-version: 1",
            "Header: Authorization: MNS STS.x:****\nsecurity-token: ****\nx-mns-version: 1",
        ),
        (  # tablestore's DEBUG "OTS request": its request headers as a dict (v2 and v4 signatures)
            f"Headers: {{'x-ots-ststoken': '{TOKEN}', 'x-ots-signature': 'c2ln+PQ==', 'x-ots-signaturev4': 'c2ln'}}",
            "Headers: {'x-ots-ststoken': '****', 'x-ots-signature': '****', 'x-ots-signaturev4': '****'}",
        ),
        ("{'authorization': 'OTS STS.x:Zm9vYmFyYmF6cXV4cXV1eA=='}", "{'authorization': 'OTS STS.x:****'}"),
        ("Init Auth v1: access_key_id: STS.x, access_key_secret: ******", None),  # masked already: untouched
        ('{"SecurityToken": null, "SignatureMethod": "HMAC-SHA1"}', None),  # no value to mask
        ("a template SecurityToken=%s", None),  # a placeholder of a log template is not a value
    ],
)
def test_every_shape_is_masked_and_nothing_else_changes(text, kept):
    assert redact(text) == (kept if kept is not None else text)


def test_records_keep_their_shape_and_clean_records_are_untouched():
    logger = logging.getLogger("oss2.http")
    install_sdk_log_redaction()
    redactor = next(f for f in logger.filters if isinstance(f, SdkLogRedactor))

    headers = {"x-oss-security-token": TOKEN, "date": "Tue"}
    record = logger.makeRecord("oss2.http", logging.DEBUG, __file__, 1, "headers: %s, url: %s", (headers, "/b"), None)
    assert redactor.filter(record) is True
    assert record.msg == "headers: %s, url: %s" and record.args[1] == "/b"  # template and arguments, masked one by one
    assert record.args[0] == {"x-oss-security-token": MASK, "date": "Tue"} and headers["x-oss-security-token"] == TOKEN
    assert record.levelno == logging.DEBUG and record.name == "oss2.http" and TOKEN not in record.getMessage()

    split = logger.makeRecord("oss2.http", logging.INFO, __file__, 1, "%s=%s", ("SecurityToken", TOKEN), None)
    redactor.filter(split)  # the secret only exists once put together: the record carries the masked text
    assert split.getMessage() == f"SecurityToken={MASK}"

    args = ("x", {"k": 1})
    clean = logger.makeRecord("oss2.http", logging.DEBUG, __file__, 1, "nothing %s %s", args, None)
    redactor.filter(clean)
    assert clean.msg == "nothing %s %s" and clean.args is args


def test_a_bytes_argument_is_masked_as_bytes_and_the_template_is_kept():
    """aliyunsdkcore logs each response body as bytes (``Response received. Product:%s Response-body: %s``); for a
    KMS GetSecretValue made through a ProxyAcsClient that body holds the managed key. The bytes argument is masked
    in its own shape (bytes), the template and the other arguments stay: a handler that reads record.args (a
    structured-logging formatter) sees the same record it would without a secret."""
    logger = logging.getLogger("aliyunsdkcore.client")
    install_sdk_log_redaction()
    redactor = next(f for f in logger.filters if isinstance(f, SdkLogRedactor))
    secret = "s3cr3t+Value/9="
    body = json.dumps(
        {"SecretName": "app", "SecretData": json.dumps({"AccessKeyId": "LTAIx", "AccessKeySecret": secret})}
    ).encode()
    template = "Response received. Product:%s Response-body: %s"
    record = logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, template, ("Kms", body), None)
    redactor.filter(record)
    assert record.msg == template and record.args[0] == "Kms"
    assert isinstance(record.args[1], bytes) and record.args[1] == body.replace(secret.encode(), MASK.encode())
    assert secret not in record.getMessage() and "LTAIx" in record.getMessage()


def test_a_kms_answer_fetched_through_a_proxy_acs_client_is_masked_in_the_sdk_debug_log(cloud, debug_everywhere):
    """GetSecretValue through ProxyAcsClient.do_action_with_exception (an application reading a secret itself):
    aliyunsdkcore logs the whole answer at DEBUG, SecretData and the key in it included; the values are masked."""
    secret_name = "app-key"
    key_id, key_secret = cloud.create_secret(secret_name)
    caller_id, caller_secret = cloud.add_access_key(security_token=True)
    token = cloud.security_token_of(caller_id)
    request = CommonRequest(domain=cloud.kms_host, version="2016-01-20", action_name="GetSecretValue")
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    request.add_query_param("SecretName", secret_name)
    with ProxyAcsClient(
        credentials_provider=StaticCredentialsProvider(caller_id, caller_secret, token), region_id=cloud.region_id
    ) as client:
        answer = json.loads(client.do_action_with_exception(request))
    assert json.loads(answer["SecretData"])["AccessKeySecret"] == key_secret  # the answer itself is the app's
    logged = "\n".join(r.getMessage() for r in debug_everywhere.records if not r.name.startswith("tests.cloud"))
    assert "Response-body" in logged and key_id in logged  # the body was logged, key id and all
    assert key_secret not in logged and caller_secret not in logged and token not in logged
    assert MASK in logged


def test_the_filter_is_on_every_logger_the_installed_sdks_use():
    """Read the installed SDKs' sources for getLogger(...) names: each is covered. An upgrade that adds a module
    logging under a new name fails here, naming it (add it to credentials/masking/redaction.py SDK_LOGGERS)."""
    import aliyun.log
    import aliyunsdkcore
    import darabonba
    import mns
    import tablestore
    import Tea
    import urllib3
    from tablestore import OTSClient

    install_sdk_log_redaction()
    names = set()
    for package in (aliyunsdkcore, oss2, Tea, darabonba, urllib3, mns, tablestore, aliyun.log):
        root = os.path.dirname(package.__file__)
        for folder, _, files in os.walk(root):
            for file_name in files:
                if file_name.endswith(".py"):
                    names |= logger_names(os.path.join(folder, file_name), package.__name__, root)
    assert names, "no logger found: the scan is broken"
    missing = sorted(name for name in names if not covered(name))
    assert not missing, f"SDK loggers without the redaction filter: {missing}"
    assert set(SDK_LOGGERS) >= {"aliyunsdkcore.client", "oss2.auth", "oss2.http", "credentials", "darabonba-core"}
    # The names the scan cannot read (a variable's default, a class attribute): the SDKs' default loggers
    assert "tablestore.decoder" in names and covered(OTSClient.DEFAULT_LOGGER_NAME) and covered("mns_python_sdk")
    assert {"aliyun.log.logclient", "aliyun.log.util"} <= names


def logger_names(path, package, root):
    """The logger names a module uses: getLogger(__name__) is the module's name; string literals as written."""
    with open(path, encoding="utf-8") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old escape sequences in some SDK modules
        tree = ast.parse(handle.read())
    module = package + "." + os.path.relpath(path, root)[:-3].replace(os.sep, ".")
    module = module[: -len(".__init__")] if module.endswith(".__init__") else module
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "getLogger":
            if node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "__name__":
                found.add(module)
            elif node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


@pytest.mark.parametrize("make_provider", [sts_key_provider, ram_role_provider], ids=["static-sts", "ram_role_arn"])
def test_no_token_or_secret_in_any_output_of_the_log_service_proxies_with_debug_on(
    cloud, debug_everywhere, capfd, loopback_names, make_provider
):
    """ProxyLogClient (v1 and v4) and ProxyQueuedLogHandler with STS keys, through a refused call and a revocation
    (healed for the RAM role, failing for the fixed STS key): no secret or token in any record or output."""
    from aliyun.log import ListLogstoresRequest, LogException, LogItem, PutLogsRequest

    from proxy import ProxyLogClient, ProxyQueuedLogHandler

    cloud.sls.create_logstore("p", "s")
    provider = make_provider(cloud)
    seen = []
    clients = [
        ProxyLogClient(cloud.sls_endpoint, credentials_provider=provider),
        ProxyLogClient(cloud.sls_endpoint, credentials_provider=provider, auth_version="v4", region=cloud.region_id),
    ]
    handler = ProxyQueuedLogHandler(cloud.sls_endpoint, project="p", log_store="s", credentials_provider=provider)
    shipped = logging.getLogger("tests.redaction.shipped")
    shipped.propagate = False
    shipped.addHandler(handler)

    def calls(client):
        client.put_logs(PutLogsRequest("p", "s", "", "", [LogItem(contents=[("k", "v")])]))
        client.list_logstores(ListLogstoresRequest("p"))

    for client in clients:
        for step in (
            lambda client=client: calls(client),
            lambda client=client: client.list_logstores(ListLogstoresRequest("no-such-project")),
        ):
            try:
                step()
            except LogException as exc:
                seen.append(exc)
    shipped.info("before the revocation")
    handler.flush()
    revoke(cloud, provider)
    for client in clients:
        try:
            calls(client)
        except LogException as exc:
            seen.append(exc)
    shipped.info("after the revocation")
    shipped.removeHandler(handler)
    handler.close()
    seen.extend([provider, provider.get_credentials(), *clients, handler])
    for client in clients:
        client.shutdown()
    records, text, out, err = everything_seen(debug_everywhere, capfd, seen)
    secrets = emulator_secrets(cloud)
    found = sorted(
        {
            where
            for where, blob in (("log records", text), ("stdout", out), ("stderr", err))
            for secret in secrets
            if secret in blob
        }
    )
    assert not found, f"a secret or token appeared in: {found}"
    assert any(r.name.startswith("urllib3") and "/logstores" in r.getMessage() for r in records)  # requests logged
    assert cloud.count("PutLogs", code="OK") >= 3 and any(e.get_error_code() == "ProjectNotExist" for e in seen)


# ---- the filter itself ----------------------------------------------------------------------------------------------

TOKEN = "CAIS" + "Zx9+/" * 20 + "="

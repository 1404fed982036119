"""ProxyOssClient's lifecycle: constructor misuse, fork safety (and the one private reach it needs), the optional
extra."""

import os
import time

import alibabacloud_oss_v2 as oss
import pytest
from alibabacloud_oss_v2.credentials import StaticCredentialsProvider as OssStaticProvider

from credentials import StaticCredentialsProvider
from proxy import ManagedOssCredentialsProvider, ProxyOssClient
from tests.oss_v2_helpers import BUCKET, get, put, v2_config


def test_constructor_misuse_is_a_value_error(cloud):
    key_id, secret = cloud.add_access_key()
    provider = StaticCredentialsProvider(key_id, secret)
    with pytest.raises(ValueError, match="secret_name= .* or credentials_provider="):
        ProxyOssClient(v2_config(cloud))
    with pytest.raises(ValueError, match="exactly one"):
        ProxyOssClient(v2_config(cloud), "x", credentials_provider=provider)
    with pytest.raises(ValueError, match="another provider"):
        ProxyOssClient(
            v2_config(cloud, credentials_provider=OssStaticProvider(key_id, secret)), credentials_provider=provider
        )
    managed = ManagedOssCredentialsProvider(credentials_provider=provider)
    client = ProxyOssClient(v2_config(cloud, credentials_provider=managed))
    assert client.managed_credentials_provider is managed
    assert ProxyOssClient(v2_config(cloud), credentials_provider=managed).managed_credentials_provider is managed


def test_private_reach_the_sdk_http_client_is_where_we_look(cloud):
    """proxy/oss_v2/_compat.py reads the SDK's resolved HTTP client (no public getter) to reset it after fork."""
    from importlib import metadata

    from proxy.oss_v2._compat import sdk_http_client

    key_id, secret = cloud.add_access_key()
    http = oss.transport.RequestsHttpClient()
    client = ProxyOssClient(
        v2_config(cloud), credentials_provider=StaticCredentialsProvider(key_id, secret), http_client=http
    )
    moved = (
        f"alibabacloud-oss-v2 {metadata.version('alibabacloud-oss-v2')} no longer has "
        "Client._client._options.http_client; see proxy/oss_v2/_compat.py"
    )
    try:
        assert sdk_http_client(client) is http, moved
    except AttributeError:
        pytest.fail(moved)
    built_by_the_sdk = ProxyOssClient(v2_config(cloud), credentials_provider=client.credentials_provider)
    assert isinstance(sdk_http_client(built_by_the_sdk), oss.transport.RequestsHttpClient)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_forked_child_calls_on_its_own_connections(cloud):
    key_id, secret = cloud.add_access_key()
    cloud.create_bucket(BUCKET)
    client = ProxyOssClient(v2_config(cloud), credentials_provider=StaticCredentialsProvider(key_id, secret))
    put(client, "parent", b"P" * 1000)
    put(client, "child", b"C" * 1000)  # the client now holds a pooled keep-alive connection
    read, write = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        ok = False
        try:
            os.read(go_read, 1)
            ok = all(get(client, "child") == b"C" * 1000 for _ in range(200))
        finally:
            os.write(write, b"ok" if ok else b"no")
            os._exit(0)
    os.close(write)
    try:
        os.write(go_write, b"g")  # both call at the same time: on one shared connection answers would cross
        assert all(get(client, "parent") == b"P" * 1000 for _ in range(200))
    finally:
        deadline = time.monotonic() + 30
        while os.waitpid(pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert os.read(read, 2) == b"ok"
    for fd in (read, go_read, go_write):
        os.close(fd)


def test_without_the_extra_the_import_says_what_to_install_and_other_proxies_work():
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = (
        "import sys\n"
        "sys.modules['alibabacloud_oss_v2'] = None  # as if the extra were not installed\n"
        "from proxy import ProxyBucket, ProxyOpenApiClient, ProxyOssClient  # a placeholder, said when used\n"
        "try:\n"
        "    ProxyOssClient(None, secret_name='my-ram-secret')\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=root),
    )
    assert result.returncode == 0, result.stderr
    assert "ImportError:" in result.stdout and "[oss-v2]" in result.stdout
    lazy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from proxy import ProxyBucket, ProxyOpenApiClient, "
            "OssV2AKExpireHandler; print('alibabacloud_oss_v2' in sys.modules)",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=root),
    )
    assert lazy.stdout.strip() == "False", lazy.stdout + lazy.stderr


def test_no_key_is_the_sdks_operation_error_and_a_credentials_error(cloud, kms_client):
    import asyncio

    from alibabacloud_oss_v2.exceptions import CredentialsFetchError, OperationError

    from credentials import CredentialsError
    from credentials.managed import ManagedSecretProvider
    from proxy import ProxyAsyncOssClient

    cloud.create_secret("app-key")
    cloud.create_bucket(BUCKET)
    cloud.kms_down()
    provider = ManagedSecretProvider("app-key", kms_client, fetch_now=False)
    client = ProxyOssClient(v2_config(cloud), credentials_provider=provider)
    with pytest.raises(OperationError) as exc_info:
        put(client, "k", b"v")
    error = exc_info.value
    assert isinstance(error, CredentialsError) and isinstance(error.unwrap(), CredentialsFetchError)
    assert error.secret_name == "app-key" and isinstance(error.__cause__, CredentialsError)
    assert "PutObject" in str(error) and "no key could be obtained" in str(error)

    async def async_put():
        async with ProxyAsyncOssClient(v2_config(cloud), credentials_provider=provider) as aclient:
            await aclient.put_object(oss.PutObjectRequest(bucket=BUCKET, key="k", body=b"v"))

    with pytest.raises(OperationError) as exc_info:
        asyncio.run(async_put())
    assert isinstance(exc_info.value, CredentialsError)
    cloud.kms_up()


def test_the_reissue_log_line_names_the_service_code_inside_an_operation_error():
    """'key LTAI****abcd was rejected (OperationError (ServiceError InvalidAccessKeyId))': the on-call sees why."""
    from alibabacloud_oss_v2.exceptions import OperationError, ServiceError

    from proxy.outcomes import describe

    refused = ServiceError(
        status_code=403,
        code="InvalidAccessKeyId",
        message="revoked",
        request_id="r",
        ec="",
        timestamp=None,
        request_target="",
    )
    assert describe(OperationError(name="PutObject", error=refused)) == (
        "OperationError (ServiceError InvalidAccessKeyId)"
    )

"""Errors that legacy handlers catch (issue 11 b, c), against the emulator with the real SDKs.

Each test is written as the application is: an ``except`` block for the plain SDK's own exception type. When no key
can be had, that block catches our error (which is also a CredentialsError); when healing is given up because the
refresh failed, the service's own error reaches it, saying why at the end of its message.
"""

import asyncio
import functools
import pickle

import oss2
import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException as TeaClientException
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from credentials import CredentialsError
from credentials.managed import ManagedSecretProvider
from proxy import ProxyAcsClient, ProxyBucket, ProxyOpenApiClient, ProxyService
from tests.helpers import describe_regions, wait_until
from tests.test_openapi import config as tea_config
from tests.test_reliability import fast_kms

SECRET = "app-key"
BUCKET = "bkt"
EcsProxy = ProxyOpenApiClient.for_product(EcsClient)
MALFORMED = '{"AccessKeyId": "LTAI5tOnlyTheId"}'
MALFORMED_NOTE = (
    f"managed credentials: secret {SECRET!r} could not be refreshed: SecretData field AccessKeySecret "
    "is missing (error code MalformedSecretData)"
)


def acs_call(cloud, client):
    return client.do_action_with_exception(describe_regions(cloud))


def oss_call(bucket):
    return bucket.put_object("obj", b"payload")


def ecs_call(ecs):
    return ecs.describe_regions_with_options(ecs_models.DescribeRegionsRequest(), RuntimeOptions())


def caught(call, *types):
    """What an application's ``except <types> as e:`` block receives, or None if the call succeeded."""
    try:
        call()
    except types as exc:
        return exc
    return None


# ---- no key at all: the SDK's client-side exception, and a CredentialsError -------------------------------------


def test_no_key_reaches_an_acs_client_programs_except_client_exception(cloud, configured):
    """KMS unreachable at first use: the constructor returns (logged), the call raises a ClientException that is
    also a CredentialsError, coded ManagedCredentials.Unavailable and naming the secret and the cause."""
    cloud.create_secret(SECRET)
    cloud.kms_down()
    client = ProxyAcsClient(SECRET, timeout=5)
    error = caught(lambda: acs_call(cloud, client), ClientException)
    assert isinstance(error, CredentialsError), type(error)
    assert error.get_error_code() == "ManagedCredentials.Unavailable"
    assert SECRET in error.get_error_msg() and "cannot reach KMS" in error.get_error_msg()
    assert error.secret_name == SECRET and error.code == "SDK.HttpError"  # what CredentialsError handlers read
    assert isinstance(error.__cause__, CredentialsError) and error.__cause__.code == "SDK.HttpError"
    assert isinstance(caught(client.get_access_key, ClientException), CredentialsError)
    cloud.kms_up()
    assert wait_until(lambda: caught(lambda: acs_call(cloud, client), ClientException) is None, deadline=5.0)
    client.shutdown()


def test_no_key_reaches_an_oss_programs_except_oss_error(cloud, configured):
    """Malformed SecretData and no good key yet: a bucket call raises an oss2 ClientError (an OssError) that is
    also a CredentialsError naming the secret and the field; ProxyService the same."""
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    cloud.set_secret_data(SECRET, MALFORMED)
    bucket = ProxyBucket(SECRET, cloud.oss_endpoint, BUCKET)
    service = ProxyService(SECRET, cloud.oss_endpoint)
    for call in (lambda: oss_call(bucket), service.list_buckets):
        error = caught(call, oss2.exceptions.OssError)
        assert isinstance(error, oss2.exceptions.ClientError) and isinstance(error, CredentialsError), type(error)
        assert error.status == oss2.exceptions.OSS_CLIENT_ERROR_STATUS
        assert SECRET in str(error) and "SecretData field AccessKeySecret is missing" in str(error)
        assert error.code == "MalformedSecretData" and error.secret_name == SECRET
    cloud.rotate_secret(SECRET)
    assert wait_until(lambda: caught(lambda: oss_call(bucket), oss2.exceptions.OssError) is None, deadline=5.0)
    assert cloud.count("PutObject", code="InvalidAccessKeyId") == 0  # nothing was ever sent without a key
    bucket.shutdown()
    service.shutdown()


def test_no_key_reaches_a_v2_programs_except_tea_exception(cloud, configured):
    """KMS unreachable at first use, a V2 product client (sync and async): tea-openapi's own ClientException (a
    TeaException), coded ManagedCredentials.Unavailable, also a CredentialsError; raised as is, not wrapped."""
    cloud.create_secret(SECRET)
    cloud.kms_down()
    ecs = EcsProxy(tea_config(cloud), secret_name=SECRET)

    async def call_async():
        return await ecs.describe_regions_with_options_async(ecs_models.DescribeRegionsRequest(), RuntimeOptions())

    for call in (lambda: ecs_call(ecs), lambda: asyncio.run(call_async())):
        error = caught(call, TeaException)
        assert isinstance(error, TeaClientException) and isinstance(error, CredentialsError), type(error)
        assert error.code == "ManagedCredentials.Unavailable" and error.secret_name == SECRET
        assert SECRET in error.message and "cannot reach KMS" in error.message
        assert error.__cause__.code == "SDK.HttpError"
    cloud.kms_up()
    assert wait_until(lambda: caught(lambda: ecs_call(ecs), TeaException) is None, deadline=5.0)
    ecs.shutdown()


def test_typed_errors_survive_pickling():
    """Exceptions cross process boundaries (multiprocessing pools): each typed error comes back whole."""
    from proxy import errors

    cause = CredentialsError(
        "SecretData field AccessKeySecret is missing", secret_name=SECRET, code="MalformedSecretData"
    )
    from credentials.kms import KmsRequestError

    unreachable = KmsRequestError(
        "KMS could not be reached", secret_name=SECRET, code="ConnectionError", status=None, retryable=True
    )
    for why in (cause, unreachable):  # KmsRequestError's fields are keyword-only: the default pickling fails
        for make in (errors.for_acs, errors.for_oss, errors.for_tea):
            error = make(why)
            back = pickle.loads(pickle.dumps(error))
            assert type(back) is type(error) and str(back) == str(error) and back.secret_name == SECRET
        back_cause = pickle.loads(pickle.dumps(why))
        assert type(back_cause) is type(why) and back_cause.__dict__ == why.__dict__


# ---- healing given up: the service's own error, saying why ---------------------------------------------------------


def test_a_failed_refresh_is_said_at_the_end_of_the_service_error(cloud, configured):
    """The cached key is revoked while the secret is malformed: every client (an old one, and one built
    afterwards) gets the service's own exception, same type and code, whose str() ends with why healing failed
    and whose __cause__ is the CredentialsError. Fixing the secret heals them."""
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    old = ProxyAcsClient(SECRET, timeout=5)
    acs_call(cloud, old)
    key_id = old.credentials_provider.get_credentials().access_key_id
    cloud.set_secret_data(SECRET, MALFORMED)
    cloud.revoke_key(key_id)

    for client in (old, ProxyAcsClient(SECRET, timeout=5)):  # the second call is in the fetch backoff: no fetch
        error = caught(functools.partial(acs_call, cloud, client), ServerException)
        assert type(error).__name__ == "ServerException" and error.get_error_code() == "InvalidAccessKeyId.NotFound"
        assert error.get_http_status() == 404 and error.request_id
        assert str(error).endswith(MALFORMED_NOTE), str(error)
        assert isinstance(error.__cause__, CredentialsError) and error.__cause__.code == "MalformedSecretData"
    bucket = ProxyBucket(SECRET, cloud.oss_endpoint, BUCKET)
    error = caught(lambda: oss_call(bucket), oss2.exceptions.OssError)
    assert isinstance(error, oss2.exceptions.ServerError) and not isinstance(error, CredentialsError)
    assert (error.status, error.code) == (403, "InvalidAccessKeyId") and error.request_id
    assert str(error).endswith(MALFORMED_NOTE), str(error)

    back = pickle.loads(pickle.dumps(error))
    assert type(back) is oss2.exceptions.ServerError and back.code == "InvalidAccessKeyId"  # the SDK's class
    cloud.rotate_secret(SECRET)
    assert wait_until(lambda: caught(lambda: acs_call(cloud, old), ServerException) is None, deadline=5.0)
    oss_call(bucket)
    old.shutdown()
    bucket.shutdown()


@pytest.mark.parametrize("sdk", ["acs", "oss", "tea"])
def test_kms_down_and_the_key_revoked_says_so_in_the_service_error(cloud, sdk):
    """KMS unreachable when the key is revoked: the service's error (ServerException, oss2 ServerError, tea
    ClientException), its code unchanged, ends with the secret and the KMS error."""
    cloud.create_secret(SECRET)
    cloud.create_bucket(BUCKET)
    provider = ManagedSecretProvider(SECRET, fast_kms(cloud))
    if sdk == "acs":
        client = ProxyAcsClient(credentials_provider=provider, timeout=5)
        call, types, code = (lambda: acs_call(cloud, client)), ServerException, "InvalidAccessKeyId.NotFound"
    elif sdk == "oss":
        client = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name=BUCKET)
        call, types, code = (lambda: oss_call(client)), oss2.exceptions.ServerError, "InvalidAccessKeyId"
    else:
        client = EcsProxy(tea_config(cloud), credentials_provider=provider)
        call, types, code = (lambda: ecs_call(client)), TeaException, "InvalidAccessKeyId.NotFound"
    call()
    cloud.kms_down()
    cloud.revoke_key(provider.get_credentials().access_key_id)
    error = caught(call, types)
    assert not isinstance(error, CredentialsError)
    assert (error.get_error_code() if sdk == "acs" else error.code) == code
    assert f"managed credentials: secret {SECRET!r} could not be refreshed: cannot reach KMS at " in str(error)
    assert str(error).endswith("(error code SDK.HttpError)"), str(error)
    assert error.__cause__.code == "SDK.HttpError"
    client.shutdown()
    provider.close()


def test_a_key_kms_keeps_returning_is_said_in_the_service_error(cloud, kms_client):
    """KMS answers, with the very key the service rejects (revoked outside a rotation): the service's error says
    the secret still holds it, with the key id masked."""
    key_id, _ = cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client)
    client = ProxyAcsClient(credentials_provider=provider, timeout=5)
    cloud.revoke_key(key_id)
    error = caught(functools.partial(acs_call, cloud, client), ServerException)
    assert error.get_error_code() == "InvalidAccessKeyId.NotFound"
    assert str(error).endswith(
        f"managed credentials: secret {SECRET!r} still holds the key the service rejected "
        f"({key_id[:4]}****{key_id[-4:]}): rotate the secret, or enable the key again"
    )
    assert key_id not in str(error).split("; managed credentials")[1]
    client.shutdown()

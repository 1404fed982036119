"""The re-issue rule shared by every proxy (proxy/reissue.py), with providers the test controls, against the
emulator: what a call does when the refresh it needs cannot be had."""

import oss2
import pytest
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException

from credentials import Credentials, CredentialsError, CredentialsProvider
from proxy import ProxyAcsClient, ProxyBucket, ProxyOpenApiClient
from tests.helpers import describe_regions

EcsProxy = ProxyOpenApiClient.for_product(EcsClient)


class RefreshFails(CredentialsProvider):
    """Serves one key; every refresh fails (an STS endpoint or KMS that cannot be reached)."""

    def __init__(self, credentials):
        self.credentials = credentials
        self.refreshes = 0

    def get_credentials(self):
        return self.credentials

    def credentials_without_waiting(self):
        return self.credentials

    def refresh(self, stale=None):
        self.refreshes += 1
        raise CredentialsError(
            "the credentials source cannot be reached", secret_name="app-role", code="ServiceUnavailable"
        )


def acs(cloud, provider):
    client = ProxyAcsClient(credentials_provider=provider, timeout=5, connect_timeout=2)
    return client, lambda: client.do_action_with_exception(describe_regions(cloud)), "DescribeRegions"


def oss(cloud, provider):
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(
        credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="bkt", connect_timeout=5
    )
    return bucket, lambda: bucket.get_object("obj"), "GetObject"


def openapi(cloud, provider):
    from tests.test_openapi import config, ecs_describe_regions

    ecs = EcsProxy(config(cloud), credentials_provider=provider)
    return ecs, lambda: ecs_describe_regions(ecs), "DescribeRegions"


def service_error_code(exc):
    if isinstance(exc, ServerException):
        return exc.get_error_code()
    if isinstance(exc, (oss2.exceptions.ServerError, ClientException)):
        return exc.code
    return None


@pytest.mark.parametrize("make", [acs, oss, openapi], ids=["acs", "oss", "openapi"])
def test_a_refresh_that_fails_ends_the_call_with_the_service_error_at_once(cloud, caplog, make):
    """The key was revoked and the refresh fails: the call ends with the service's own error after that one
    refresh (never a second refresh, never the rejected key sent again), and its message says why healing failed
    (the CredentialsError is its __cause__; the failure is logged once, where it happened, not again here)."""
    key_id, secret = cloud.add_access_key()
    provider = RefreshFails(Credentials(key_id, secret))
    client, call, action = make(cloud, provider)
    cloud.revoke_key(key_id)
    with pytest.raises(Exception) as info:
        call()
    assert service_error_code(info.value) in ("InvalidAccessKeyId.NotFound", "InvalidAccessKeyId"), info.value
    assert provider.refreshes == 1
    assert cloud.count(action) == 1
    assert str(info.value).endswith(
        "could not be refreshed: the credentials source cannot be reached (error code ServiceUnavailable)"
    ), str(info.value)
    assert isinstance(info.value.__cause__, CredentialsError)
    client.shutdown()

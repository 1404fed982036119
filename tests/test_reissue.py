"""The re-issue rule shared by every proxy (proxy/reissue.py), with providers the test controls, against the
emulator: what a call does when the refresh it needs cannot be had."""
import logging

import oss2
import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException

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
        raise CredentialsError("the credentials source cannot be reached", secret_name="app-role",
                               code="ServiceUnavailable")


def acs(cloud, provider):
    client = ProxyAcsClient(credentials_provider=provider, timeout=5, connect_timeout=2)
    return client, lambda: client.do_action_with_exception(describe_regions(cloud)), "DescribeRegions"


def oss(cloud, provider):
    cloud.create_bucket("bkt")
    bucket = ProxyBucket(credentials_provider=provider, endpoint=cloud.oss_endpoint, bucket_name="bkt",
                         connect_timeout=5)
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
    refresh (never a second refresh, never the rejected key sent again), and a warning says why healing failed."""
    key_id, secret = cloud.add_access_key()
    provider = RefreshFails(Credentials(key_id, secret))
    client, call, action = make(cloud, provider)
    cloud.revoke_key(key_id)
    caplog.set_level(logging.WARNING, logger="managed_credentials")
    with pytest.raises(Exception) as info:
        call()
    assert service_error_code(info.value) in ("InvalidAccessKeyId.NotFound", "InvalidAccessKeyId"), info.value
    assert provider.refreshes == 1
    assert cloud.count(action) == 1
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("managed_credentials")]
    assert any("cannot be reached" in m for m in warnings), warnings  # the cause, in the application's log
    client.shutdown()

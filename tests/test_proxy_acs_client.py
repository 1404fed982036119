"""ProxyAcsClient against the emulator with the real aliyunsdkcore: swap-in, rotation healing, bounded retries."""

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient

from credentials import StaticCredentialsProvider, get_secret_provider
from credentials.managed import ManagedSecretProvider
from proxy import AKExpireHandler, ProxyAcsClient, SdkCoreAKExpireHandler
from tests.helpers import bad_parameter_request, call_through_rotation, describe_regions, regions_of


def test_plain_program_becomes_managed_by_changing_the_constructor(cloud, configured):
    key_id, secret = cloud.create_secret("app-key")
    plain = AcsClient(key_id, secret, "cn-hangzhou")
    managed = ProxyAcsClient("app-key", region_id="cn-hangzhou")
    assert isinstance(managed, AcsClient)
    assert regions_of(managed.do_action_with_exception(describe_regions(cloud))) == regions_of(
        plain.do_action_with_exception(describe_regions(cloud))
    )
    assert cloud.count("DescribeRegions", access_key_id=key_id, code="OK") == 2
    managed.shutdown()
    managed.shutdown()  # idempotent


def test_exactly_one_of_secret_name_and_provider():
    with pytest.raises(ValueError):
        ProxyAcsClient()
    with pytest.raises(ValueError):
        ProxyAcsClient("x", credentials_provider=StaticCredentialsProvider("a", "b"))


def test_revoked_key_heals_with_eight_threads_and_one_fetch(cloud, configured):
    cloud.create_secret("app-key")
    client = ProxyAcsClient("app-key", region_id="cn-hangzhou", pool_size=8)
    client.do_action_with_exception(describe_regions(cloud))
    cloud.reset_counts()
    errors, (new_id, _) = call_through_rotation(
        lambda: client.do_action_with_exception(describe_regions(cloud)),
        lambda: cloud.rotate_secret("app-key", mode="revoke"),
        calls_after=200,
    )
    assert errors == []
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count("DescribeRegions", access_key_id=new_id, code="OK") >= 200
    client.shutdown()


def test_every_rotation_in_a_row_is_healed(cloud, configured):
    cloud.create_secret("app-key")
    client = ProxyAcsClient("app-key")
    for _ in range(8):
        new_id, _ = cloud.rotate_secret("app-key", mode="revoke")
        client.do_action_with_exception(describe_regions(cloud))
        assert client.credentials_provider.get_credentials().access_key_id == new_id
    assert cloud.count("DescribeRegions", code="InvalidAccessKeyId.NotFound") == 8
    assert cloud.count("GetSecretValue") == 9


def test_rejected_key_that_kms_keeps_returning_fails_bounded(cloud, kms_client):
    """KMS keeps returning the key the service rejects: each call sends its request once (a refresh that brought
    back the rejected key is not worth re-sending it), and only the first refresh reaches KMS (the provider's clock
    is frozen, so the back-off after that useless fetch holds for all five calls)."""
    key_id, _ = cloud.create_secret("app-key")
    provider = ManagedSecretProvider("app-key", kms_client, clock=lambda: 1_000_000.0)
    client = ProxyAcsClient(credentials_provider=provider)
    cloud.revoke_key(key_id)  # the service rejects it; KMS still returns it
    for _ in range(5):
        with pytest.raises(ServerException) as info:
            client.do_action_with_exception(describe_regions(cloud))
        assert info.value.get_error_code() == "InvalidAccessKeyId.NotFound"
    assert cloud.count("DescribeRegions") == 5  # never re-sent with the key just rejected
    assert cloud.count("GetSecretValue") == 2  # the first fetch, one useless refresh, then the back-off holds
    client.shutdown()


def test_non_expiry_error_is_raised_at_once_without_refresh(cloud, configured):
    cloud.create_secret("app-key")
    client = ProxyAcsClient("app-key")
    fetches = cloud.count("GetSecretValue")
    with pytest.raises(ServerException) as info:
        client.do_action_with_exception(bad_parameter_request(cloud))
    assert info.value.get_error_code() == "InvalidParameter"
    assert cloud.count("GetSecretValue") == fetches
    assert cloud.count("DescribeInstances") == 1


def test_custom_handler_is_honoured(cloud, kms_client):
    cloud.create_secret("app-key")
    provider = ManagedSecretProvider("app-key", kms_client)

    class NeverExpired(AKExpireHandler):
        def judge_ak_expire(self, exception):
            return False

    client = ProxyAcsClient(credentials_provider=provider, ak_expire_handler=NeverExpired())
    cloud.rotate_secret("app-key", mode="revoke")
    with pytest.raises(ServerException):
        client.do_action_with_exception(describe_regions(cloud))
    assert cloud.count("GetSecretValue") == 1

    provider.refresh()
    fetches = cloud.count("GetSecretValue")
    by_code = ProxyAcsClient(
        credentials_provider=provider, ak_expire_handler=SdkCoreAKExpireHandler("InvalidParameter")
    )
    with pytest.raises(ServerException) as info:
        by_code.do_action_with_exception(bad_parameter_request(cloud))
    assert info.value.get_error_code() == "InvalidParameter"
    assert cloud.count("GetSecretValue") > fetches  # "InvalidParameter" now counts as an expired key


def test_sts_provider_sends_the_token(cloud):
    key_id, secret = cloud.add_access_key(security_token="TOKEN-abc")
    client = ProxyAcsClient(credentials_provider=StaticCredentialsProvider(key_id, secret, "TOKEN-abc"))
    client.do_action_with_exception(describe_regions(cloud))
    assert cloud.count("DescribeRegions", access_key_id=key_id, code="OK") == 1


def test_context_manager_releases_the_shared_provider(cloud, configured):
    """Leaving ``with`` releases that client's hold on the registry's provider: the provider stays open while
    another client holds it, and is closed (and forgotten by the registry) when the last holder shuts down."""
    cloud.create_secret("app-key")
    other = ProxyAcsClient("app-key")
    provider = other.credentials_provider
    with ProxyAcsClient("app-key") as client:
        assert client.credentials_provider is provider  # one shared provider per secret
        client.do_action_with_exception(describe_regions(cloud))
    assert not provider.closed  # `other` still holds it
    other.do_action_with_exception(describe_regions(cloud))  # still works
    other.shutdown()
    assert provider.closed  # the last hold is gone
    assert get_secret_provider("app-key") is not provider  # the registry no longer hands it out


def resolved(client, request):
    try:
        return client._resolve_endpoint(request)
    except Exception as exc:  # noqa: BLE001 - an unresolvable endpoint must fail the same way for both
        return type(exc), str(exc)


@pytest.mark.parametrize(
    "region, product",
    [
        ("cn-hangzhou", "Ecs"),
        ("ap-southeast-1", "Ecs"),
        ("cn-shanghai", "Kms"),
        ("cn-beijing", "Sts"),
        ("eu-central-1", "Rds"),
        ("cn-hangzhou", "Ram"),
        ("cn-hangzhou", "NoSuchProduct"),
    ],
)
def test_endpoints_resolve_as_a_plain_acs_client_resolves_them(region, product):
    """ProxyAcsClient shares one copy of the SDK's endpoint tables (proxy/acs/endpoints.py) instead of building them per
    client: the answers must be the plain client's, including endpoints added with add_endpoint()."""
    from aliyunsdkcore.request import CommonRequest

    plain = AcsClient("LTAI-plain", "unused", region)
    proxy = ProxyAcsClient(credentials_provider=StaticCredentialsProvider("LTAI-proxy", "unused"), region_id=region)
    request = CommonRequest(domain=None, version="2014-05-26", action_name="Describe", product=product)
    assert resolved(proxy, request) == resolved(plain, request)
    for client in (plain, proxy):
        client.add_endpoint(region, product, f"{product.lower()}.custom.example")
    assert resolved(proxy, request) == resolved(plain, request) == f"{product.lower()}.custom.example"
    proxy.shutdown()

"""V2 (tea-openapi) clients on managed keys, against the emulator with the real tea-openapi and a generated product
client (ECS 2014-05-26): ManagedCredentialsClient signs, ProxyOpenApiClient heals."""

import asyncio

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.models import Config, OpenApiRequest, Params

try:
    from alibabacloud_tea_openapi.exceptions import ClientException
    from darabonba.runtime import RuntimeOptions
except ImportError:  # tea-openapi 0.3.x, the oldest setup.py allows (.ci/oldest-versions)
    from alibabacloud_tea_util.models import RuntimeOptions
    from Tea.exceptions import TeaException as ClientException

from credentials import StaticCredentialsProvider
from credentials.managed import ManagedSecretProvider
from proxy import ManagedCredentialsClient, ProxyOpenApiClient, TeaAKExpireHandler
from tests.helpers import LoopTicker, call_through_rotation

SECRET = "app-key"
EcsProxy = ProxyOpenApiClient.for_product(EcsClient)


def config(cloud, **kwargs):
    return Config(
        endpoint=cloud.ecs_host,
        protocol="http",
        region_id=cloud.region_id,
        read_timeout=5000,
        connect_timeout=3000,
        **kwargs,
    )


def describe_regions_params():
    return Params(
        action="DescribeRegions",
        version="2014-05-26",
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )


def region_ids(response):
    return [r.region_id for r in response.body.regions.region]


def ecs_describe_regions(client):
    return region_ids(client.describe_regions_with_options(ecs_models.DescribeRegionsRequest(), RuntimeOptions()))


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["ACS3-HMAC-SHA256", "rpc-v1"])
def test_a_plain_v2_client_signs_with_the_managed_key(cloud, configured, algorithm):
    key_id, _ = cloud.create_secret(SECRET)
    credential = ManagedCredentialsClient(SECRET)
    client = OpenApiClient(config(cloud, credential=credential, signature_algorithm=algorithm))
    body = client.call_api(describe_regions_params(), OpenApiRequest(), RuntimeOptions())["body"]
    assert "cn-hangzhou" in [r["RegionId"] for r in body["Regions"]["Region"]]
    assert cloud.count("DescribeRegions", access_key_id=key_id, code="OK") == 1
    credential.shutdown()


def test_a_generated_product_client_signs_with_the_managed_key(cloud, configured):
    key_id, _ = cloud.create_secret(SECRET)
    ecs = EcsClient(config(cloud, credential=ManagedCredentialsClient(SECRET)))
    assert "cn-hangzhou" in ecs_describe_regions(ecs)
    assert cloud.count("DescribeRegions", access_key_id=key_id, code="OK") == 1


def test_a_product_client_heals_a_revoked_key_with_eight_threads_and_one_fetch(cloud, configured):
    cloud.create_secret(SECRET)
    ecs = EcsProxy(config(cloud), secret_name=SECRET)
    assert isinstance(ecs, EcsClient) and isinstance(ecs, ProxyOpenApiClient)
    ecs_describe_regions(ecs)
    cloud.reset_counts()
    errors, (new_id, _) = call_through_rotation(
        lambda: ecs_describe_regions(ecs), lambda: cloud.rotate_secret(SECRET, mode="revoke")
    )
    assert errors == []
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count("DescribeRegions", access_key_id=new_id, code="OK") >= 100
    ecs.shutdown()
    ecs.shutdown()  # idempotent


def test_a_client_built_on_a_managed_credential_heals(cloud, configured):
    cloud.create_secret(SECRET)
    credential = ManagedCredentialsClient(SECRET)
    with ProxyOpenApiClient(config(cloud, credential=credential)) as client:
        new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")
        client.call_api(describe_regions_params(), OpenApiRequest(), RuntimeOptions())
    assert cloud.count("DescribeRegions", access_key_id=new_id, code="OK") == 1
    assert cloud.count("DescribeRegions", code="InvalidAccessKeyId.NotFound") == 1
    credential.shutdown()


def test_async_calls_heal_too(cloud, configured):
    cloud.create_secret(SECRET)
    ecs = EcsProxy(config(cloud), secret_name=SECRET)
    new_id, _ = cloud.rotate_secret(SECRET, mode="revoke")

    async def call():
        return await ecs.describe_regions_with_options_async(ecs_models.DescribeRegionsRequest(), RuntimeOptions())

    assert "cn-hangzhou" in region_ids(asyncio.run(call()))
    assert cloud.count("DescribeRegions", access_key_id=new_id, code="OK") == 1
    assert cloud.count("GetSecretValue") == 2
    ecs.shutdown()


def test_an_error_that_is_not_about_the_key_is_raised_at_once(cloud, configured):
    cloud.create_secret(SECRET)
    ecs = EcsProxy(config(cloud), secret_name=SECRET)
    fetches = cloud.count("GetSecretValue")
    with pytest.raises(ClientException) as info:
        ecs.describe_instances_with_options(
            ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou", page_size=1000), RuntimeOptions()
        )
    assert info.value.code == "InvalidParameter"
    assert cloud.count("DescribeInstances") == 1
    assert cloud.count("GetSecretValue") == fetches


def test_a_key_the_service_keeps_rejecting_fails_bounded_with_the_service_error(cloud, kms_client):
    key_id, _ = cloud.create_secret(SECRET)
    provider = ManagedSecretProvider(SECRET, kms_client)
    ecs = EcsProxy(config(cloud), credentials_provider=provider)
    cloud.revoke_key(key_id)  # the service rejects it; KMS still returns it
    with pytest.raises(ClientException) as info:
        ecs_describe_regions(ecs)
    assert info.value.code == "InvalidAccessKeyId.NotFound"
    assert cloud.count("DescribeRegions", code="InvalidAccessKeyId.NotFound") <= 3
    assert cloud.count("GetSecretValue") <= 3
    provider.close()


def test_a_custom_handler_decides_what_is_an_expired_key(cloud, configured):
    cloud.create_secret(SECRET)
    ecs = EcsProxy(config(cloud), secret_name=SECRET, ak_expire_handler=TeaAKExpireHandler("InvalidParameter"))
    fetches = cloud.count("GetSecretValue")
    with pytest.raises(ClientException):
        ecs.describe_instances_with_options(
            ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou", page_size=1000), RuntimeOptions()
        )
    assert cloud.count("GetSecretValue") == fetches + 1  # judged an expired key: refreshed (KMS gave the same key,
    assert cloud.count("DescribeInstances") == 1  # so the request was not sent again with it)
    with pytest.raises(ClientException) as info:  # a rotated key is now not "expired" for this handler
        cloud.rotate_secret(SECRET, mode="revoke")
        ecs_describe_regions(ecs)
    assert info.value.code == "InvalidAccessKeyId.NotFound"


def test_session_credentials_send_their_token(cloud):
    key_id, secret = cloud.add_access_key(security_token=True)
    token = cloud.security_token_of(key_id)
    credential = ManagedCredentialsClient(credentials_provider=StaticCredentialsProvider(key_id, secret, token))
    assert credential.get_type() == "sts"
    assert "cn-hangzhou" in ecs_describe_regions(EcsClient(config(cloud, credential=credential)))
    assert cloud.count("DescribeRegions", access_key_id=key_id, code="OK") == 1


def test_the_credential_model_never_shows_the_secret(cloud):
    credential = ManagedCredentialsClient(
        credentials_provider=StaticCredentialsProvider("LTAI5tExampleKeyId", "SECRET-canary", "TOKEN-canary")
    )
    model = credential.get_credential()
    shown = repr(model) + str(model) + repr(credential)
    assert "SECRET-canary" not in shown and "TOKEN-canary" not in shown
    assert model.access_key_secret == "SECRET-canary" and model.security_token == "TOKEN-canary"


def test_constructors_take_the_key_from_one_place_only(cloud):
    provider = StaticCredentialsProvider("a", "b")
    with pytest.raises(ValueError):
        ManagedCredentialsClient()
    with pytest.raises(ValueError):
        ManagedCredentialsClient("x", credentials_provider=provider)
    with pytest.raises(ValueError):
        ProxyOpenApiClient(
            config(cloud, access_key_id="LTAI", access_key_secret="pasted"), credentials_provider=provider
        )
    with pytest.raises(TypeError):
        ProxyOpenApiClient.for_product(dict)
    assert ProxyOpenApiClient.for_product(EcsClient) is EcsProxy


def test_async_calls_on_a_warm_cache_take_the_key_without_a_thread_hop(cloud, configured):
    """The event loop's executor is only for a fetch; a cached key is handed out in the loop itself."""
    import concurrent.futures

    cloud.create_secret(SECRET)
    ecs = EcsProxy(config(cloud), secret_name=SECRET)

    class NoThreads(concurrent.futures.ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            raise AssertionError("a warm-cache call went to a worker thread")

    async def call():
        asyncio.get_running_loop().set_default_executor(NoThreads())
        return await ecs.describe_regions_with_options_async(ecs_models.DescribeRegionsRequest(), RuntimeOptions())

    assert "cn-hangzhou" in region_ids(asyncio.run(call()))
    ecs.shutdown()


def test_clients_built_on_the_loop_never_block_it_while_kms_holds_the_first_fetch(cloud, configured):
    """Row "async construction", tea-openapi: a product client (ProxyOpenApiClient) and a ManagedCredentialsClient
    built inside a running loop return before KMS answers; the loop keeps ticking while the one fetch they share is
    held; their async calls then sign with the fetched key."""
    key_id, _ = cloud.create_secret(SECRET)

    async def main(ticker):
        ticker.start()
        ecs = EcsProxy(config(cloud), secret_name=SECRET)
        credential = ManagedCredentialsClient(SECRET)
        answered_at_construction = cloud.count("GetSecretValue")
        response, model = await asyncio.gather(
            ecs.describe_regions_with_options_async(ecs_models.DescribeRegionsRequest(), RuntimeOptions()),
            credential.get_credential_async(),
        )
        await ticker.finish()
        ecs.shutdown()
        credential.shutdown()
        return answered_at_construction, response, model

    with LoopTicker(cloud) as ticker:
        answered_at_construction, response, model = asyncio.run(main(ticker))
    assert answered_at_construction == 0  # the constructors did not wait for KMS
    assert ticker.ticks_while_held >= 20  # the loop ran while the fetch was held
    assert "cn-hangzhou" in region_ids(response) and model.access_key_id == key_id
    assert cloud.count("GetSecretValue") == 1
    assert cloud.count("DescribeRegions", access_key_id=key_id, code="OK") == 1

"""A V2 (tea-openapi) SDK client on managed keys: ManagedCredentialsClient signs, ProxyOpenApiClient heals.

    python samples/v2_product_client.py

Any generated V2 product client accepts `Config(credential=ManagedCredentialsClient(secret_name))` and then signs
every request with the managed key. To also re-issue a request refused because the key was just revoked, build
the client as a ProxyOpenApiClient: `ProxyOpenApiClient.for_product(EcsClient)(config, secret_name=...)`.
This sample uses the ECS client (pip install alibabacloud-ecs20140526) when it is installed, and otherwise the
generic tea-openapi client with the same DescribeRegions call.
"""

from _environment import environment
from alibabacloud_tea_openapi.models import Config, OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from credentials.model import mask
from proxy import ManagedCredentialsClient, ProxyOpenApiClient


def describe_regions(client) -> list:
    """The application's own code."""
    if hasattr(client, "describe_regions_with_options"):
        from alibabacloud_ecs20140526.models import DescribeRegionsRequest

        response = client.describe_regions_with_options(DescribeRegionsRequest(), RuntimeOptions())
        return [region.region_id for region in response.body.regions.region]
    params = Params(
        action="DescribeRegions",
        version="2014-05-26",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    body = client.call_api(params, OpenApiRequest(), RuntimeOptions())["body"]
    return [region["RegionId"] for region in body["Regions"]["Region"]]


def product_client_class():
    try:
        from alibabacloud_ecs20140526.client import Client as EcsClient
    except ImportError:
        return ProxyOpenApiClient
    return ProxyOpenApiClient.for_product(EcsClient)


def main() -> None:
    with environment() as env:
        config = Config(region_id=env.region_id, endpoint=env.ecs_domain, protocol=env.protocol)
        credential = ManagedCredentialsClient(env.secret_name)
        config.credential = credential
        with product_client_class()(config) as ecs:
            print(
                f"{type(ecs).__name__}: DescribeRegions with the managed key "
                f"{mask(credential.get_access_key_id())}: {', '.join(describe_regions(ecs)[:3])}, ..."
            )
            if env.cloud is not None:
                env.cloud.rotate_secret(env.secret_name, mode="revoke")
                regions = describe_regions(ecs)
                print(
                    f"after an emergency rotation: {len(regions)} regions with the new key "
                    f"{mask(credential.get_access_key_id())}, no error"
                )
        credential.shutdown()
    print("v2_product_client: OK")


if __name__ == "__main__":
    main()

"""Quick start: a managed AccessKey from KMS Secrets Manager, used by ProxyAcsClient, healed through a rotation.

    python samples/quickstart.py

With no managed_credentials_providers.properties in the working directory it
starts the local cloud emulator, writes a properties file for it, and runs
there; with one, it uses real KMS and the secret named by $MANAGED_SECRET_NAME.
"""

import json

from _environment import environment

from credentials import get_secret_provider
from credentials.model import mask
from proxy import ProxyAcsClient


def main() -> None:
    with environment() as env:
        provider = get_secret_provider(env.secret_name)
        key = provider.get_credentials()
        print(f"fetched managed secret {env.secret_name!r}: AccessKeyId {mask(key.access_key_id)}")

        with ProxyAcsClient(env.secret_name, region_id=env.region_id) as client:
            body = client.do_action_with_exception(env.describe_regions_request())
            regions = [r["RegionId"] for r in json.loads(body)["Regions"]["Region"]]
            print(f"DescribeRegions with the managed key: {len(regions)} regions, e.g. {', '.join(regions[:3])}")

            if env.cloud is not None:  # show what the proxy is for: a rotation that revokes the old key at once
                new_id, _ = env.cloud.rotate_secret(env.secret_name, mode="revoke")
                print(f"rotated the secret and revoked {mask(key.access_key_id)}; the new key is {mask(new_id)}")
                client.do_action_with_exception(env.describe_regions_request())
                used = client.credentials_provider.get_credentials().access_key_id
                print(f"DescribeRegions after the rotation succeeded with {mask(used)}: the application never noticed")
    print("quickstart: OK")


if __name__ == "__main__":
    main()

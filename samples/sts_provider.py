"""Proxies on short-lived STS keys from the Credentials tool (a RAM role), instead of a managed secret.

    python samples/sts_provider.py

CredentialsToolProvider takes any type of the Alibaba Cloud Credentials tool (ram_role_arn here; ecs_ram_role,
oidc_role_arn, credentials_uri, ..., or the default chain with no argument). The STS key is cached by its real
expiry and renewed ahead of it; a key the service refuses (expired or revoked token) is replaced and the request
re-issued. Against the local emulator the role is assumed at its STS endpoint; with a properties file present
(real cloud) the default chain of this machine is used.
"""

import json
import os
import time

from _environment import environment

from credentials import CredentialsToolProvider
from credentials.model import mask
from proxy import ProxyAcsClient, ProxyBucket


def role_provider(cloud) -> CredentialsToolProvider:
    if cloud is None:
        return CredentialsToolProvider()  # environment variables, profiles, ECS RAM role, RRSA, credentials URI
    os.environ["SSL_CERT_FILE"] = cloud.sts.ca_file  # the emulator's STS speaks https with a test CA
    key_id, key_secret = cloud.add_access_key()  # the RAM user allowed to assume the role
    return CredentialsToolProvider(
        {
            "type": "ram_role_arn",
            "access_key_id": key_id,
            "access_key_secret": key_secret,
            "role_arn": cloud.sts.role_arn("app-role"),
            "role_session_name": "sample",
            "sts_endpoint": cloud.sts.host,
        }
    )


def main() -> None:
    with environment() as env:
        provider = role_provider(env.cloud)
        key = provider.get_credentials()
        left = f"{key.expiration - time.time():.0f} s left" if key.expiration else "no expiry"
        print(f"assumed the role: STS key {mask(key.access_key_id)} with a security token, {left}")

        client = ProxyAcsClient(credentials_provider=provider, region_id=env.region_id, timeout=10)
        body = client.do_action_with_exception(env.describe_regions_request())
        print(
            f"DescribeRegions signed with the STS key and its token: {len(json.loads(body)['Regions']['Region'])} "
            "regions"
        )
        if env.cloud is not None:
            bucket = ProxyBucket(credentials_provider=provider, endpoint=env.oss_endpoint, bucket_name=env.bucket_name)
            bucket.put_object("sts-sample.txt", b"written with an STS token")
            print("put_object with the same STS key: OK")
            env.cloud.sts.expire(key.access_key_id)  # the token expires early (e.g. the role session was revoked)
            client.do_action_with_exception(env.describe_regions_request())
            print(
                f"the token expired; the call healed with a new STS key "
                f"{mask(provider.get_credentials().access_key_id)}"
            )
            bucket.shutdown()
        client.shutdown()
        provider.close()
    print("sts_provider: OK")


if __name__ == "__main__":
    main()

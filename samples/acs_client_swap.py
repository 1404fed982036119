"""A legacy AcsClient program made managed by changing one line.

    python samples/acs_client_swap.py

Before:  client = AcsClient("LTAI...", "the-secret-pasted-in-config", "cn-hangzhou")
After:   client = ProxyAcsClient("demo-ram-secret", region_id="cn-hangzhou")
Everything else (requests, do_action_with_exception, auto_retry, timeouts) is unchanged.
"""

import json

from _environment import environment

from proxy import ProxyAcsClient


def list_regions(client, request) -> list:
    """The application's own code: it knows nothing about secrets or rotation."""
    body = client.do_action_with_exception(request)
    return [region["RegionId"] for region in json.loads(body)["Regions"]["Region"]]


def main() -> None:
    with environment() as env:
        client = ProxyAcsClient(env.secret_name, region_id=env.region_id, timeout=10)  # the one changed line
        print("regions:", ", ".join(list_regions(client, env.describe_regions_request())))
        if env.cloud is not None:
            env.cloud.rotate_secret(env.secret_name, mode="revoke")
            print(
                "after an emergency rotation:",
                len(list_regions(client, env.describe_regions_request())),
                "regions, no error",
            )
        client.shutdown()
    print("acs_client_swap: OK")


if __name__ == "__main__":
    main()

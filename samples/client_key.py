"""Shared KMS reached with an application client key: credentials_type=client_key.

    python samples/client_key.py

Against the local emulator it issues a client key (clientKey_<id>.json and its password file, as the KMS console
does), writes a properties file with credentials_type=client_key, fetches the managed secret with requests that
aliyunsdkcore signs SHA256withRSA with that key, and heals a call through a revoking rotation. With a properties
file present it uses it as it is (your own client_key configuration) and $MANAGED_SECRET_NAME.
"""

import os
import sys
import tempfile

from _environment import environment

from credentials import ConfigError, ConfigLoader, get_secret_provider, registry
from credentials.model import mask
from proxy import ProxyAcsClient


def main() -> None:
    with environment() as env, tempfile.TemporaryDirectory() as folder:
        if env.cloud is not None:
            path = env.cloud.write_client_key_properties(
                os.path.join(folder, "managed_credentials_providers.properties")
            )
            ConfigLoader.set_config_name(path)
            print(f"client key {mask(env.cloud.dkms.client_key.key_id)} issued; properties:")
            with open(path, encoding="utf-8") as handle:
                print("    " + handle.read().strip().replace("\n", "\n    "))

        key = get_secret_provider(env.secret_name).get_credentials()
        print(
            f"fetched {env.secret_name!r}: AccessKeyId {mask(key.access_key_id)} from "
            f"{registry.default_kms_client().describe_source()}, signed with the client key"
        )

        with ProxyAcsClient(env.secret_name, region_id=env.region_id) as client:
            client.do_action_with_exception(env.describe_regions_request())
            print("DescribeRegions with the managed key: OK")
            if env.cloud is not None:
                new_id, _ = env.cloud.rotate_secret(env.secret_name, mode="revoke")
                client.do_action_with_exception(env.describe_regions_request())
                used = client.credentials_provider.get_credentials().access_key_id
                assert used == new_id
                print(
                    f"{mask(key.access_key_id)} revoked: refreshed to {mask(used)} through KMS with the client "
                    "key; the call succeeded"
                )
    print("client_key: OK")


if __name__ == "__main__":
    try:
        main()
    except ConfigError as exc:  # a wrong password, a missing key file...: the message names the file and the key
        sys.exit(f"client_key: {exc}")

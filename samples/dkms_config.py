"""A dedicated KMS instance: the upstream plugin's cache_client_dkms_config_info form, a client key, failover.

    pip install -e .                # nothing more: '.[dkms]' still works and only asks for cryptography>=42
    python samples/dkms_config.py

Against the local emulator it issues a client key (clientKey_<id>.json and its password file, as the console
does), writes a properties file with two instance gateways and only the cache_client_dkms_config_info key, then
takes the first gateway down and revokes the managed key: the refresh goes to the second gateway and the call
succeeds. With a properties file present it uses it as it is (your own DKMS form) and $MANAGED_SECRET_NAME.
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
            second = env.cloud.dkms.add_instance()
            path = env.cloud.write_dkms_properties(
                os.path.join(folder, "managed_credentials_providers.properties"), names=["dkms", second]
            )
            ConfigLoader.set_config_name(path)
            print(f"client key {env.cloud.dkms.client_key.key_id} issued; properties (upstream DKMS form):")
            with open(path, encoding="utf-8") as handle:
                print("    " + handle.read().strip().replace("\n", "\n    "))

        key = get_secret_provider(env.secret_name).get_credentials()
        print(
            f"fetched {env.secret_name!r}: AccessKeyId {mask(key.access_key_id)} from "
            f"{registry.default_kms_client().describe_source()}"
        )

        with ProxyAcsClient(env.secret_name, region_id=env.region_id) as client:
            client.do_action_with_exception(env.describe_regions_request())
            print("DescribeRegions with the managed key: OK")
            if env.cloud is not None:
                env.cloud.service_down("dkms")  # the first gateway is gone (connection refused)
                new_id, _ = env.cloud.rotate_secret(env.secret_name, mode="revoke")
                client.do_action_with_exception(env.describe_regions_request())
                used = client.credentials_provider.get_credentials().access_key_id
                assert used == new_id
                print(
                    f"first gateway down and {mask(key.access_key_id)} revoked: refreshed to {mask(used)} from "
                    f"{registry.default_kms_client().describe_source()}; the call succeeded"
                )
    print("dkms_config: OK")


if __name__ == "__main__":
    try:
        main()
    except ConfigError as exc:  # e.g. a client key file that does not open: the message says what to fix
        sys.exit(f"dkms_config: {exc}")

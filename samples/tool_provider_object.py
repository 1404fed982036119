"""Proxies on a provider object of the Credentials tool that you built yourself: CredentialsToolProvider(provider=...).

    python samples/tool_provider_object.py

Any provider of ``alibabacloud_credentials.provider`` with ``get_credentials()`` (here an External process: a
command that prints a key as JSON, the way a vault or an internal key service hands keys out; also CLIProfile with a
named profile, CloudSSO, OAuth, RsaKeyPair, ...) or an ``alibabacloud_credentials.client.Client`` gets our cache,
refresh windows and single flight. Against the local emulator the command prints a key the emulator issued; then
the source rotates the key and the old one is revoked: the next call is refused, the refresh runs the command
once, and the call is re-issued with the new key. With a properties file present (real cloud) the named profile
$ALIBABA_CLOUD_PROFILE of ~/.aliyun/config.json is used (the aliyun CLI's profiles).
"""

import json
import os
import shlex
import sys
import tempfile

from _environment import environment

from credentials import CredentialsToolProvider
from credentials.model import mask
from proxy import ProxyAcsClient

PRINT_KEY = """\
import sys
with open(sys.argv[1]) as source:
    sys.stdout.write(source.read())
"""


def serve(path: str, key_id: str, key_secret: str) -> None:
    """What the command prints: {"mode": "AK", "access_key_id": ..., "access_key_secret": ...} (the tool's format;
    "StsToken" with "sts_token" and "expiration" for an STS key)."""
    with open(path + ".new", "w") as handle:
        json.dump({"mode": "AK", "access_key_id": key_id, "access_key_secret": key_secret}, handle)
    os.replace(path + ".new", path)


def main() -> None:
    try:
        from alibabacloud_credentials.provider import CLIProfileCredentialsProvider, ExternalCredentialsProvider
    except ImportError:
        sys.exit("this sample needs alibabacloud-credentials 1.0.9 or later (ExternalCredentialsProvider)")
    with environment() as env, tempfile.TemporaryDirectory() as folder:
        cloud = env.cloud
        if cloud is None:
            tool = CLIProfileCredentialsProvider(profile_name=os.environ.get("ALIBABA_CLOUD_PROFILE"))
        else:
            script, source = os.path.join(folder, "print_key.py"), os.path.join(folder, "key.json")
            with open(script, "w") as handle:
                handle.write(PRINT_KEY)
            old_id, old_secret = cloud.add_access_key()
            serve(source, old_id, old_secret)
            tool = ExternalCredentialsProvider(process_command=shlex.join([sys.executable, script, source]))
        provider = CredentialsToolProvider(provider=tool)
        print(f"{provider!r}: key {mask(provider.get_credentials().access_key_id)}")

        client = ProxyAcsClient(credentials_provider=provider, region_id=env.region_id, timeout=10)
        body = client.do_action_with_exception(env.describe_regions_request())
        print(f"DescribeRegions: {len(json.loads(body)['Regions']['Region'])} regions")
        if cloud is not None:
            new_id, new_secret = cloud.add_access_key()
            serve(source, new_id, new_secret)  # the source hands out a new key ...
            cloud.revoke_key(old_id)  # ... and the old one is revoked
            client.do_action_with_exception(env.describe_regions_request())
            print(f"the key was revoked; the call healed with key {mask(provider.get_credentials().access_key_id)}")
        client.shutdown()
        provider.close()
    print("tool_provider_object: OK")


if __name__ == "__main__":
    main()

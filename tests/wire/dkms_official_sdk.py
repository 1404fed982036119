"""The official alibabacloud-dkms-gcs SDK fetching a secret from a gateway: run in the SDK's own venv.

    <sdk-venv>/bin/python tests/wire/dkms_official_sdk.py '<json>'

The JSON names the gateway (endpoint, ca_file), the client key (key_file, password_file), the secret and,
optionally, a fixed ``date`` header (so that two clients' requests can be compared byte for byte) and a number
of ``fetches`` to time (CPU per fetch, time.process_time, after one warm-up fetch). Prints one JSON line: the
strings the SDK signed, what it fetched (the secret's version and a SHA-256 of its data, never the data), the
CPU per fetch and the versions of the SDK's stack. Imports only the SDK and the standard library: this venv
holds the SDK's old pins, not this library.
"""

import hashlib
import json
import sys
import time
from importlib import metadata


def main() -> int:
    args = json.loads(sys.argv[1])
    from alibabacloud_tea_util.client import Client as UtilClient
    from openapi.models import Config
    from openapi_util.client import Client as GatewayUtil
    from openapi_util.models import RuntimeOptions
    from sdk.client import Client
    from sdk.models import GetSecretValueRequest

    if args.get("date"):
        UtilClient.get_date_utcstring = staticmethod(lambda: args["date"])  # the same date header as ours
    signed = []
    original = GatewayUtil.get_string_to_sign

    def spy(*call_args, **call_kwargs):  # records what the SDK signs; changes nothing
        text = original(*call_args, **call_kwargs)
        signed.append(text)
        return text

    GatewayUtil.get_string_to_sign = staticmethod(spy)
    with open(args["password_file"], encoding="utf-8") as handle:
        password = handle.read().strip()
    client = Client(
        Config(
            client_key_file=args["key_file"],
            password=password,
            endpoint=args["endpoint"],
            region_id=args.get("region_id", "cn-hangzhou"),
            protocol="https",
            ca_file_path=args["ca_file"],
        )
    )
    request = GetSecretValueRequest(secret_name=args["secret_name"], fetch_extended_config=True)
    runtime = RuntimeOptions(autoretry=False)
    response = client.get_secret_value_with_options(request, runtime)
    result = {
        "string_to_sign": list(signed),
        "version_id": response.version_id,
        "secret_data_sha256": hashlib.sha256(response.secret_data.encode("utf-8")).hexdigest(),
        "versions": {
            name: metadata.version(name) for name in ("alibabacloud-dkms-gcs", "protobuf", "pyOpenSSL", "cryptography")
        },
    }
    fetches = int(args.get("fetches") or 0)
    if fetches:
        start = time.process_time()
        for _ in range(fetches):
            client.get_secret_value_with_options(request, runtime)
        result["cpu_per_fetch_ms"] = (time.process_time() - start) * 1000 / fetches
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

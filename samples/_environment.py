"""Where the samples run: against the local cloud emulator (no account needed) or, when a properties file is
present, against real KMS with the secret named by $MANAGED_SECRET_NAME."""

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Iterator, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # `python samples/X.py` from a checkout: find credentials/, proxy/ and tests/

from credentials import ConfigLoader  # noqa: E402


@dataclass
class Environment:
    secret_name: str
    region_id: str
    ecs_domain: str  # where DescribeRegions goes
    protocol: str
    oss_endpoint: str
    bucket_name: str
    cloud: Optional[object] = None  # the emulator, when running locally

    def describe_regions_request(self):
        from aliyunsdkcore.request import CommonRequest

        request = CommonRequest(domain=self.ecs_domain, version="2014-05-26", action_name="DescribeRegions")
        request.set_protocol_type(self.protocol)
        request.set_accept_format("JSON")
        return request


@contextlib.contextmanager
def environment(secret_name: str = "demo-ram-secret") -> Iterator[Environment]:
    config = ConfigLoader.get_config_name()
    if os.path.exists(config):
        name = os.environ.get("MANAGED_SECRET_NAME")
        if not name:
            sys.exit(
                f"{config} is present, so this sample runs against real KMS: set MANAGED_SECRET_NAME to the "
                "managed RAM credential secret to use (or remove the file to use the local emulator)"
            )
        region = os.environ.get("ALIBABA_CLOUD_REGION_ID", "cn-hangzhou")
        yield Environment(
            name,
            region,
            f"ecs.{region}.aliyuncs.com",
            "https",
            f"https://oss-{region}.aliyuncs.com",
            os.environ.get("OSS_BUCKET", "my-bucket"),
        )
        return
    from tests.cloud import CloudEmulator

    with CloudEmulator() as cloud, tempfile.TemporaryDirectory() as folder:
        cloud.create_secret(secret_name)
        cloud.create_bucket("demo-bucket")
        ConfigLoader.set_config_name(cloud.write_properties(os.path.join(folder, os.path.basename(config))))
        try:
            yield Environment(
                secret_name, cloud.region_id, cloud.ecs_host, "http", cloud.oss_endpoint, "demo-bucket", cloud
            )
        finally:
            from credentials import registry

            registry.reset()
            ConfigLoader.set_config_name(None)

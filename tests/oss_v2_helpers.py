"""What the OSS SDK V2 tests share: a V2 Config pointed at the emulator, and the calls they make."""

import alibabacloud_oss_v2 as oss
from alibabacloud_oss_v2.exceptions import ServiceError

SECRET = "app-key"
BUCKET = "bkt"


def v2_config(cloud, **fields) -> oss.config.Config:
    cfg = oss.config.load_default()
    cfg.region = cloud.region_id
    cfg.endpoint = cloud.oss_endpoint  # http://127.0.0.1:PORT: the SDK goes path-style on an IP endpoint
    for name, value in fields.items():
        setattr(cfg, name, value)
    return cfg


def put(client, key, body):
    return client.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=body))


def get(client, key) -> bytes:
    return client.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key)).body.read()


def service_error(exc_info) -> ServiceError:
    error = exc_info.value.unwrap()
    assert isinstance(error, ServiceError)
    return error

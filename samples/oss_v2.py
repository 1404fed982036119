"""An OSS SDK V2 (alibabacloud-oss-v2) program on a managed key: ProxyOssClient, its uploader, and the async client.

pip install -e '.[oss-v2]'
python samples/oss_v2.py
"""

import asyncio
import io
import sys

from _environment import environment

try:
    import alibabacloud_oss_v2 as oss
except ImportError:
    sys.exit("samples/oss_v2.py needs OSS SDK V2: pip install -e '.[oss-v2]'")

from proxy import ProxyAsyncOssClient, ProxyOssClient


def config(env) -> "oss.config.Config":
    cfg = oss.config.load_default()  # as for any V2 client: region, endpoint, signature version (V4)...
    cfg.region = env.region_id
    cfg.endpoint = env.oss_endpoint
    return cfg


async def async_part(env) -> bytes:
    async with ProxyAsyncOssClient(config(env), secret_name=env.secret_name) as client:
        if env.cloud is not None:
            env.cloud.rotate_secret(env.secret_name, mode="revoke")  # the refresh runs off the event loop
        await client.put_object(oss.PutObjectRequest(bucket=env.bucket_name, key="async.txt", body=b"from asyncio"))
        result = await client.get_object(oss.GetObjectRequest(bucket=env.bucket_name, key="async.txt"))
        return await result.body.read()


def main() -> None:
    with environment() as env:
        with ProxyOssClient(config(env), secret_name=env.secret_name) as client:
            client.put_object(
                oss.PutObjectRequest(bucket=env.bucket_name, key="hello.txt", body=b"hello from a managed key")
            )
            body = client.get_object(oss.GetObjectRequest(bucket=env.bucket_name, key="hello.txt")).body.read()
            print("put hello.txt; read back:", body.decode())
            if env.cloud is not None:
                env.cloud.rotate_secret(env.secret_name, mode="revoke")
            data = b"quarterly numbers " * 40000  # 700 KiB: seven parts of 100 KiB
            client.uploader(part_size=100 * 1024).upload_from(
                oss.PutObjectRequest(bucket=env.bucket_name, key="report.bin"), io.BytesIO(data)
            )
            size = client.head_object(oss.HeadObjectRequest(bucket=env.bucket_name, key="report.bin")).content_length
            print(f"after an emergency rotation: uploaded report.bin in parts ({size} bytes) without an error")
            url = client.presign(oss.GetObjectRequest(bucket=env.bucket_name, key="report.bin")).url
            print("a presigned URL, signed with the current key:", url.split("?")[0] + "?...")
        print("async client, through another rotation:", asyncio.run(async_part(env)).decode())
    print("oss_v2: OK")


if __name__ == "__main__":
    main()

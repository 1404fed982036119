"""An oss2.Bucket program made managed: ProxyBucket(secret_name, endpoint, bucket_name).

python samples/oss_bucket.py
"""

import io

from _environment import environment

from proxy import ProxyBucket


def main() -> None:
    with environment() as env:
        bucket = ProxyBucket(env.secret_name, env.oss_endpoint, env.bucket_name)
        bucket.put_object("hello.txt", b"hello from a managed key")
        print("put hello.txt; read back:", bucket.get_object("hello.txt").read().decode())
        if env.cloud is not None:
            env.cloud.rotate_secret(env.secret_name, mode="revoke")
            report = io.BytesIO(b"quarterly numbers " * 1000)  # seekable: re-sent whole after the refresh
            bucket.put_object("report.txt", report)
            size = len(bucket.get_object("report.txt").read())
            print(f"after an emergency rotation: uploaded report.txt ({size} bytes) without an error")
        bucket.shutdown()
    print("oss_bucket: OK")


if __name__ == "__main__":
    main()

"""python -m tests.cloud [--secret-name NAME] [--write-properties PATH] [--write-dkms-properties PATH]: a standalone
emulator until Ctrl-C."""
import argparse
import os
import threading

from .emulator import CloudEmulator


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cloud", description=__doc__)
    parser.add_argument("--secret-name", default="demo-ram-secret", help="name of the demo managed secret")
    parser.add_argument("--rotation-interval", type=int, default=604800,
                        help="seconds reported as RotationInterval (0: no automatic rotation)")
    parser.add_argument("--write-properties", metavar="PATH",
                        help="write a managed_credentials_providers.properties for this emulator to PATH")
    parser.add_argument("--write-dkms-properties", metavar="PATH",
                        help="issue a client key beside PATH and write a properties file in the upstream DKMS form")
    parser.add_argument("--bucket", default="demo-bucket", help="OSS bucket to create")
    args = parser.parse_args(argv)

    cloud = CloudEmulator()
    cloud.start()
    try:
        key_id, _ = cloud.create_secret(args.secret_name, rotation_interval=args.rotation_interval or None)
        cloud.create_bucket(args.bucket)
        print("KMS endpoint : %s" % cloud.kms_endpoint)
        print("ECS endpoint : %s" % cloud.ecs_endpoint)
        print("OSS endpoint : %s  (bucket %s)" % (cloud.oss_endpoint, args.bucket))
        print("DKMS gateway : https://%s  (caFilePath %s)" % (cloud.dkms.host(), cloud.dkms.ca_file))
        print("region       : %s" % cloud.region_id)
        print("secret name  : %s  (current AccessKeyId %s)" % (args.secret_name, key_id))
        print("KMS caller   : AccessKeyId %s" % cloud.kms_access_key[0])
        if args.write_properties:
            path = cloud.write_properties(args.write_properties, [args.secret_name])
            print("properties   : %s" % os.path.abspath(path))
        if args.write_dkms_properties:
            path = cloud.write_dkms_properties(args.write_dkms_properties, secret_names=[args.secret_name])
            print("DKMS props   : %s  (client key %s)" % (os.path.abspath(path), cloud.dkms.client_key.key_file))
        print("serving; Ctrl-C to stop", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""python -m tests.cloud: the local cloud emulator as a standalone server, with an HTTP control plane, until Ctrl-C
or SIGTERM.

Standard output gets ONE JSON line once everything listens: {"endpoints": {"kms", "ecs", "oss", "cs", "sts", "sls",
"mns", "ots", "control"}, "region", "secrets", "buckets", "kms_access_key_id", "properties"?, "dkms_properties"?}
(never a secret: point an application at it with --write-properties). A human summary goes to standard error. The
control plane (tests/cloud/control.py) creates secrets and buckets, rotates, injects KMS faults and serves the
request log.
"""

import argparse
import json
import os
import signal
import sys
import threading
from typing import List, Optional

from . import control
from .emulator import CloudEmulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.cloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port of the control plane on 127.0.0.1 (default 0: any free port; the other services "
        "always take free ports, printed in the JSON line)",
    )
    parser.add_argument("--secret-name", default="demo-ram-secret", help="name of the demo managed secret")
    parser.add_argument(
        "--rotation-interval",
        type=int,
        default=604800,
        help="seconds reported as RotationInterval (0: no automatic rotation)",
    )
    parser.add_argument(
        "--write-properties",
        metavar="PATH",
        help="write a managed_credentials_providers.properties for this emulator to PATH",
    )
    parser.add_argument(
        "--write-dkms-properties",
        metavar="PATH",
        help="issue a client key beside PATH and write a properties file in the upstream DKMS form",
    )
    parser.add_argument("--bucket", default="demo-bucket", help="OSS bucket to create")
    parser.add_argument(
        "--max-seconds", type=float, default=None, help="stop after this long in any case (default: run until stopped)"
    )
    return parser


def _summary(info: dict) -> str:
    lines = ["%-13s: %s" % (name, endpoint) for name, endpoint in info["endpoints"].items()]
    lines += [
        "region       : %s" % info["region"],
        "secrets      : %s" % ", ".join(info["secrets"]),
        "buckets      : %s" % ", ".join(info["buckets"]),
        "KMS caller   : AccessKeyId %s" % info["kms_access_key_id"],
    ]
    for name in ("properties", "dkms_properties"):
        if info.get(name):
            lines.append("%-13s: %s" % (name.replace("_", " "), info[name]))
    return "\n".join(lines + ["serving; Ctrl-C to stop"])


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())

    cloud = CloudEmulator()
    plane = control.add_to(cloud, port=args.port)
    try:
        try:
            cloud.start()
        except OSError as exc:
            print("cannot listen on 127.0.0.1:%d for the control plane: %s" % (args.port, exc), file=sys.stderr)
            return 2
        cloud.create_secret(args.secret_name, rotation_interval=args.rotation_interval or None)
        cloud.create_bucket(args.bucket)
        if args.write_properties:
            plane.extra["properties"] = os.path.abspath(
                cloud.write_properties(args.write_properties, [args.secret_name])
            )
        if args.write_dkms_properties:
            plane.extra["dkms_properties"] = os.path.abspath(
                cloud.write_dkms_properties(args.write_dkms_properties, secret_names=[args.secret_name])
            )
        info = plane.describe()
        print(_summary(info), file=sys.stderr, flush=True)
        print(json.dumps(info), flush=True)
        stop.wait(args.max_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        plane.close()
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

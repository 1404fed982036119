"""``python -m benchmarks.emulator_process``: the local cloud in a process of its own, for benchmarks whose client
must not share an interpreter (and its GIL) with the server.

Prints one JSON line (endpoints, the secret's key, the properties file), then serves
until its standard input closes or ``--max-seconds`` pass, whichever is first. Lines
on standard input are commands (``rotate revoke``, ``count GetSecretValue``,
``reset_counts``), each answered by one JSON line (see cloud.serve_commands).
"""

import argparse
import json
import sys
import threading

if __package__ in (None, ""):  # python benchmarks/emulator_process.py
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.cloud import local_cloud, serve_commands  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_process")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop after this long in any case")
    args = parser.parse_args(argv)
    with local_cloud() as cloud:
        print(json.dumps(cloud.as_dict()), flush=True)
        done = threading.Event()

        def commands() -> None:
            try:
                serve_commands(cloud, sys.stdin, sys.stdout)
            finally:
                done.set()

        threading.Thread(target=commands, daemon=True).start()
        done.wait(args.max_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

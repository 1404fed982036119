"""The ``managed-credentials`` command (also ``python -m credentials``).

``check [--config FILE] [SECRET ...]`` validates the properties file, reaches KMS and fetches each secret, printing
its key id masked, its version and next rotation: never the secret; then, for each secret, the fields a running
process reports in ``credentials.status()`` (one JSON line). Exit status 0 when everything works, 1 otherwise, for
deploy scripts. ``example`` prints an example properties file with every key, commented. ``--version`` prints the
version.
"""

import argparse
import json
import sys
import time
from typing import Any, List, Optional, TextIO

from ._version import __version__
from .config import ConfigLoader, KmsConfig, read_config
from .errors import ConfigError, CredentialsError
from .model import mask


def check(config_path: Optional[str], secret_names: List[str], out: TextIO = sys.stdout) -> int:
    path = config_path or ConfigLoader.get_config_name()
    problems: List[ConfigError] = []
    config, access = None, None
    try:
        config = read_config(path, problems)
    except ConfigError as exc:  # the file itself cannot be read
        problems.append(exc)
    if config is not None and config.credentials_type and (config.endpoints or not config.dkms_instances):
        from .kms import kms_access_provider

        try:
            access = kms_access_provider(config)
        except ConfigError as exc:
            if not _reported(exc, problems):  # a client key that failed to open, a joined line: reported once
                problems.append(exc)
    for problem in problems:
        print(f"config error: {problem}", file=out)
    if problems:
        return 1
    assert config is not None  # no problem: the file was read
    how = (
        f"{len(config.dkms_instances)} dedicated KMS instance(s)"
        if config.dkms_instances
        else f"credentials_type={config.credentials_type}"
    )
    if config.dkms_instances and config.endpoints:
        how += f", then {len(config.endpoints)} region(s) with credentials_type={config.credentials_type}"
    print(f"config {config.file}: OK ({how})", file=out)
    names = secret_names or list(config.secret_names)
    if not names:
        print("no secret to fetch: name secrets on the command line or in secret_names", file=out)
        return 0
    try:
        client = _kms_client(config, access)
    except (ConfigError, CredentialsError) as exc:
        print(f"config error: {exc}", file=out)
        return 1
    from .managed import ManagedSecretProvider

    failures = 0
    for name in names:
        provider = ManagedSecretProvider(name, client, fetch_now=False, background=False, startup_timeout=None)
        try:
            credentials = provider.refresh()
        except CredentialsError as exc:
            print(f"secret {name!r}: FAILED: {exc}", file=out)
            print(f"  status: {json.dumps(provider.status())}", file=out)
            failures += 1
            continue
        finally:
            provider.close()
        rotation = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(provider.next_rotation))
            if provider.next_rotation
            else "not scheduled"
        )
        print(
            f"secret {name!r}: OK AccessKeyId {mask(credentials.access_key_id)}, "
            f"version {provider.version_id or '?'}, next rotation {rotation}, from {_source(client)}",
            file=out,
        )
        print(f"  status: {json.dumps(provider.status())}", file=out)
    return 1 if failures else 0


def _reported(problem: ConfigError, problems: List[ConfigError]) -> bool:
    """Already said: the same message, or another about the same key of the same file."""
    return any(
        str(p) == str(problem) or (problem.key and (p.file, p.key) == (problem.file, problem.key)) for p in problems
    )


def _kms_client(config: KmsConfig, access: Any) -> Any:
    from .kms import build_kms_client

    return build_kms_client(config, access, attempts=2)


def _source(client: Any) -> str:
    describe = getattr(client, "describe_source", None)
    return describe() if callable(describe) else type(client).__name__


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="managed-credentials", description="Check the managed-credentials configuration and secrets."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check", help="validate the properties file and fetch secrets")
    check_parser.add_argument("--config", help="properties file (default: the usual lookup)")
    check_parser.add_argument("secrets", nargs="*", help="secret names to fetch (default: secret_names)")
    commands.add_parser("example", help="print an example properties file with every key, commented")
    args = parser.parse_args(argv)
    if args.command == "example":
        from .config import example_text

        sys.stdout.write(example_text())
        return 0
    return check(args.config, args.secrets)


if __name__ == "__main__":
    sys.exit(main())

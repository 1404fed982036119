"""The README's properties table and the example file document the same keys as the code reads."""
import os
import re

from credentials.config import properties_keys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return handle.read()


def test_readme_table_matches_the_keys_the_code_reads():
    table = read("README.md").split("<!-- properties-keys:start -->")[1].split("<!-- properties-keys:end -->")[0]
    assert re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M) == properties_keys()


def test_example_file_documents_every_key():
    example = read("managed_credentials_providers.properties.example")
    documented = set(re.findall(r"^#?\s*([a-z0-9_]+)=", example, re.M))
    assert set(properties_keys()) <= documented, set(properties_keys()) - documented


def test_failure_table_names_tests_that_exist():
    table = read("README.md").split("<!-- failure-behaviour:start -->")[1].split("<!-- failure-behaviour:end -->")[0]
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`|`(test_\w+)`", table)
    assert named
    module = None
    missing = []
    for file_name, test_name, bare in named:
        module = file_name or module  # a bare name belongs to the file named before it in the same cell
        source = read(os.path.join("tests", module))
        if not re.search(rf"^def {test_name or bare}\(", source, re.M):
            missing.append(f"{module}::{test_name or bare}")
    assert not missing, missing


def test_which_calls_heal_oss_table_matches_the_conformance_matrix():
    from proxy.oss_bucket import _NOT_REISSUED
    from tests.test_conformance_oss import BUCKET_CALLS, SERVICE_CALLS
    from tests.test_proxy_resumable import (test_resumable_download_heals_a_revocation_in_the_middle,  # noqa: F401
                                            test_resumable_upload_heals_a_revocation_in_the_middle)  # noqa: F401
    table = read("README.md").split("<!-- which-calls-heal-oss:start -->")[1].split(
        "<!-- which-calls-heal-oss:end -->")[0]
    rows = re.findall(r"^\| `oss2\.(?:(Bucket|Service)\.)?(\w+)` \| (heals|not re-issued) \|", table, re.M)
    listed = {(cls or "oss2", name, verdict) for cls, name, verdict in rows}
    expected = ({("Bucket", m, "heals") for m in BUCKET_CALLS} | {("Service", m, "heals") for m in SERVICE_CALLS}
                | {("oss2", m, "heals") for m in ("resumable_upload", "resumable_download")}
                | {("Bucket", m, "not re-issued") for m in _NOT_REISSUED})
    assert len(rows) == len(listed)
    assert listed == expected, (sorted(listed - expected), sorted(expected - listed))

"""The README's properties table and the example file document the same keys as the code reads."""

import os
import re

from credentials.config.keys import properties_keys

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


def test_which_calls_heal_acs_table_matches_the_matrix():
    from tests.test_conformance_acs import CALLS, REQUESTS

    readme = read("README.md")
    block = readme.split("<!-- which-calls-heal-acs:start -->")[1].split("<!-- which-calls-heal-acs:end -->")[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in block.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    header, body = rows[0], rows[1:]
    assert [re.sub(r"`| \(deprecated\)", "", cell) for cell in header[1:]] == list(CALLS)
    assert [row[0] for row in body] == [label for label, _, _ in REQUESTS.values()]
    assert all(cell == "heals" for row in body for cell in row[1:]), body


def test_rehearsal_commands_use_real_flags_and_control_routes():
    import shlex

    from tests.cloud import control
    from tests.cloud.__main__ import _parser

    section = read("README.md").split("## Rehearse a rotation against your application")[1].split("\n## ")[0]
    start = re.search(r"python -m tests.cloud (.*?) >", section.replace("\\\n", " "), re.S)
    _parser().parse_args(shlex.split(start.group(1)))  # SystemExit on an unknown flag
    assert "    JSON='Content-Type: application/json'\n" in section  # what a write must send (control.py)
    curls = re.findall(r"^ +curl -s (?:-X (\w+) )?(-H \"\$JSON\" )?'?[\d.]+:8700([^\s']*)", section, re.M)
    assert len(curls) >= 10
    for method, header, target in curls:
        path = target.split("?")[0]
        assert any(m == (method or "GET") and p.match(path) for m, p, _ in control.ROUTES), (method, target)
        assert bool(header) == (method not in ("", "GET")), (method, target)  # every write says Content-Type


def test_which_calls_heal_oss_table_matches_the_conformance_matrix():
    from proxy.oss.bucket import _NOT_REISSUED
    from tests.test_conformance_oss import BUCKET_CALLS, SERVICE_CALLS
    from tests.test_proxy_resumable import (  # noqa: F401
        test_resumable_download_heals_a_revocation_in_the_middle,
        test_resumable_upload_heals_a_revocation_in_the_middle,  # noqa: F401
    )

    table = (
        read("README.md").split("<!-- which-calls-heal-oss:start -->")[1].split("<!-- which-calls-heal-oss:end -->")[0]
    )
    rows = re.findall(r"^\| `oss2\.(?:(Bucket|Service)\.)?(\w+)` \| (heals|not re-issued) \|", table, re.M)
    listed = {(cls or "oss2", name, verdict) for cls, name, verdict in rows}
    expected = (
        {("Bucket", m, "heals") for m in BUCKET_CALLS}
        | {("Service", m, "heals") for m in SERVICE_CALLS}
        | {("oss2", m, "heals") for m in ("resumable_upload", "resumable_download")}
        | {("Bucket", m, "not re-issued") for m in _NOT_REISSUED}
    )
    assert len(rows) == len(listed)
    assert listed == expected, (sorted(listed - expected), sorted(expected - listed))


def test_which_calls_heal_sls_table_matches_the_conformance_matrix():
    from tests.test_conformance_sls import CALLS

    page = read(os.path.join("docs", "sdks", "log-service.md"))
    table = page.split("<!-- which-calls-heal-sls:start -->")[1].split("<!-- which-calls-heal-sls:end -->")[0]
    rows = re.findall(r"^\| `LogClient\.(\w+)` \| (heals) \|", table, re.M)
    assert sorted(name for name, _ in rows) == sorted(CALLS) and len(rows) == len(CALLS), rows

"""The documentation says what the code does: each table of docs/ is checked against the code, tests and
benchmark results it describes, where the table lives; the README keeps to the front door; the site builds with
``mkdocs build --strict`` (broken links and references fail)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from credentials.config.keys import properties_keys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return handle.read()


def marked(page, marker):
    """The part of docs/``page`` between ``<!-- marker:start -->`` and ``<!-- marker:end -->``."""
    return read(os.path.join("docs", page)).split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]


def test_configuration_table_matches_the_keys_the_code_reads():
    table = marked("configuration.md", "properties-keys")
    assert re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M) == properties_keys()


def test_example_file_documents_every_key():
    example = read("managed_credentials_providers.properties.example")
    documented = set(re.findall(r"^#?\s*([a-z0-9_]+)=", example, re.M))
    assert set(properties_keys()) <= documented, set(properties_keys()) - documented


def test_failure_table_names_tests_that_exist():
    table = marked("failure-behaviour.md", "failure-behaviour")
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

    block = marked("sdks/aliyunsdkcore.md", "which-calls-heal-acs")
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

    section = read("docs/rehearsal.md")
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
    from proxy.oss.calls import _NOT_REISSUED
    from tests.test_conformance_oss import BUCKET_CALLS, SERVICE_CALLS
    from tests.test_proxy_resumable import (  # noqa: F401
        test_resumable_download_heals_a_revocation_in_the_middle,
        test_resumable_upload_heals_a_revocation_in_the_middle,  # noqa: F401
    )

    table = marked("sdks/oss2.md", "which-calls-heal-oss")
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


def _heal_rows(page, marker):
    block = read(page).split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    return re.findall(r"^\| `([\w.]+)` \| (heals|not re-issued) \|", block, re.M)


def test_which_calls_heal_mns_table_matches_the_matrix():
    from tests.test_conformance_mns import CALLS

    rows = _heal_rows("docs/sdks/message-service.md", "which-calls-heal-mns")
    assert rows == [(call, "heals") for call in CALLS]


def test_which_calls_heal_ots_table_matches_the_matrix():
    from tests.test_conformance_ots import CALLS

    rows = _heal_rows("docs/sdks/tablestore.md", "which-calls-heal-ots")
    assert rows == [("OTSClient." + call, "heals") for call in CALLS]


def _numbers(text):
    """The numbers written in ``text`` (``1,000`` is 1000; ``3–5`` is 3 and 5), each with its decimal places."""
    return [(float(n.replace(",", "")), len(n.partition(".")[2])) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


def test_performance_figures_are_those_of_benchmarks_results():
    """Every number in the measured column of docs/performance.md is one of benchmarks/RESULTS.md, as written or
    rounded (M/s from calls/s, minutes from seconds); a row measured apart says which run gave it."""
    results = read(os.path.join("benchmarks", "RESULTS.md"))
    known = {value for value, _ in _numbers(results)}
    known |= {value / 1e6 for value in known} | {value / 60 for value in known}
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in marked("performance.md", "performance").splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ][1:]
    assert len(rows) >= 10
    unknown = []
    for figure, _target, measured in rows:
        if "--only" in figure:  # measured by a run of its own, named in the row (not in the full run's file)
            continue
        for value, places in _numbers(measured.split("(medians of")[0]):
            if not any(round(k, places) == value for k in known):
                unknown.append(f"{figure}: {value}")
    assert not unknown, unknown


def test_readme_is_a_front_door_whose_links_and_commands_hold():
    readme = read("README.md")
    assert len(readme.splitlines()) <= 200
    # the two commands for a new machine: the quick start (run by tests/test_samples.py) and the suite
    assert (
        "    python3 -m venv .venv && . .venv/bin/activate && pip install -e . && python samples/quickstart.py\n"
        in readme
    )
    assert (
        "    python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest -q\n"
        in readme
    )
    assert os.path.exists(os.path.join(ROOT, "samples", "quickstart.py"))
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert links and all(os.path.exists(os.path.join(ROOT, link)) for link in links), links
    supported = ("aliyunsdkcore", "oss2", "tea-openapi", "oss-v2", "log-service", "message-service", "tablestore")
    for page in supported:  # the table of supported SDKs
        assert f"(docs/sdks/{page}.md)" in readme


def test_the_packaged_example_file_is_the_root_one():
    """One text: the root file (the repository's layout keeps it) and its copy installed with the package
    (``managed-credentials example`` prints it). Edit the root file, then copy it over."""
    packaged = read(os.path.join("credentials", "config", "managed_credentials_providers.properties.example"))
    assert packaged == read("managed_credentials_providers.properties.example")


def test_the_site_builds_with_mkdocs_strict(tmp_path):
    """``mkdocs build --strict``: a broken link or anchor, a page left out of the nav, a docstring reference that
    does not resolve fails it (mkdocs.yml). A few seconds; the docs tools come with the test extra."""
    if shutil.which("mkdocs") is None and not _importable("mkdocs"):
        pytest.skip("the docs tools are not installed: pip install -e '.[docs]'")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert os.path.exists(tmp_path / "site" / "reference" / "proxy" / "index.html")


def _importable(name):
    from importlib.util import find_spec

    return find_spec(name) is not None


def test_which_calls_heal_sls_table_matches_the_conformance_matrix():
    from tests.test_conformance_sls import CALLS

    page = read(os.path.join("docs", "sdks", "log-service.md"))
    table = page.split("<!-- which-calls-heal-sls:start -->")[1].split("<!-- which-calls-heal-sls:end -->")[0]
    rows = re.findall(r"^\| `LogClient\.(\w+)` \| (heals) \|", table, re.M)
    assert sorted(name for name, _ in rows) == sorted(CALLS) and len(rows) == len(CALLS), rows

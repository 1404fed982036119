"""The Log Service handlers in programs of their own (subprocesses against the emulator of this test): the dictConfig
and fileConfig examples of docs/sdks/log-service.md run as written; a program that logs and exits has every record
stored (logging.shutdown at exit); after fork(), parent and child each send their own records, each once; a
multiprocessing child's records are stored before it ends."""

import collections
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT, LOGSTORE, SECRET = "my-project", "app-log", "my-ram-secret"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def example(marker):
    """The code of the fenced block between ``<!-- marker:start -->`` and ``<!-- marker:end -->`` of the docs page."""
    with open(os.path.join(ROOT, "docs", "sdks", "log-service.md"), encoding="utf-8") as handle:
        page = handle.read()
    block = page.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    return re.search(r"```\w*\n(.*?)```", block, re.S).group(1)


@pytest.fixture
def sls(cloud, configured):
    cloud.create_secret(SECRET)
    cloud.sls.create_logstore(PROJECT, LOGSTORE)
    return cloud


def run(cloud, configured, body, tmp_path):
    """Run ``body`` (Python) in a new interpreter that reaches this emulator: the properties file, the Log Service
    endpoint in place of the real one, and the project names resolving to 127.0.0.1. Returns its stdout."""
    program = textwrap.dedent(
        """
        import logging, os, sys
        from tests.cloud.loopback_names import loopback_names
        NAMES = loopback_names()
        NAMES.__enter__()  # for the whole program, its exit included
        """
    ) + textwrap.dedent(body).replace("cn-hangzhou.log.aliyuncs.com", cloud.sls_endpoint)
    env = dict(os.environ, MANAGED_CREDENTIALS_PROVIDERS_CONFIG=configured, PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Logging error" not in result.stderr, result.stderr
    return result.stdout


def stored(cloud):
    return [record for record in cloud.sls.records(PROJECT, LOGSTORE) if record.get("n")]


def once_each(records, numbers):
    counts = collections.Counter(int(record.get("n")) for record in records)
    return sorted(counts) == sorted(numbers) and set(counts.values()) == {1}


LOG = """
for n in range({first}, {last}):
    logging.getLogger("app").info("record %d", n, extra={{"n": n}})
"""


def test_the_dictconfig_example_ships_every_record_of_a_program_that_exits(sls, configured, tmp_path):
    """Configured with the page's dictConfig example, a program logs 500 records and returns: logging.shutdown()
    at exit sends what is queued (the SDK's handler would have had to be flushed by its own atexit hook)."""
    run(sls, configured, example("sls-dictconfig") + LOG.format(first=0, last=500), tmp_path)
    assert once_each(stored(sls), range(500))


def test_the_fileconfig_example_ships_every_record_of_a_program_that_exits(sls, configured, tmp_path):
    (tmp_path / "logging.ini").write_text(
        example("sls-fileconfig").replace("cn-hangzhou.log.aliyuncs.com", sls.sls_endpoint)
    )
    body = "import logging.config\nlogging.config.fileConfig('logging.ini')\n" + LOG.format(first=0, last=300)
    run(sls, configured, body, tmp_path)
    assert once_each(stored(sls), range(300))


FORKING = """
import logging.config
logging.config.dictConfig({
    "version": 1,
    "handlers": {"sls": {
        "class": "proxy.ProxyQueuedLogHandler", "end_point": "cn-hangzhou.log.aliyuncs.com",
        "project": "my-project", "log_store": "app-log", "secret_name": "my-ram-secret",
        "put_wait": 30, "batch_size": 10000,   # the parent's records wait in its queue across the fork
    }},
    "root": {"handlers": ["sls"], "level": "INFO"},
})
def log(first, last):
    for n in range(first, last):
        logging.getLogger("app").info("record %d", n, extra={"n": n})

log(0, 100)
pid = os.fork()
if pid == 0:
    log(100, 150)
    sys.exit(0)  # the child's logging.shutdown() sends the child's records, not the parent's copy of the queue
os.waitpid(pid, 0)
log(150, 200)
print("parent", os.getpid(), "child", pid)
"""


def test_after_fork_parent_and_child_each_send_their_own_records_once(sls, configured, tmp_path):
    out = run(sls, configured, FORKING, tmp_path)
    parent, child = re.search(r"parent (\d+) child (\d+)", out).groups()
    records = stored(sls)
    assert once_each(records, range(200)), sorted(int(r.get("n")) for r in records)
    by_process = collections.defaultdict(set)
    for record in records:
        by_process[record.get("process")].add(int(record.get("n")))
    assert by_process == {parent: set(range(100)) | set(range(150, 200)), child: set(range(100, 150))}


MULTIPROCESSING = """
import logging.config, multiprocessing
logging.config.dictConfig({
    "version": 1,
    "handlers": {"sls": {
        "class": "proxy.ProxyQueuedLogHandler", "end_point": "cn-hangzhou.log.aliyuncs.com",
        "project": "my-project", "log_store": "app-log", "secret_name": "my-ram-secret", "put_wait": 30,
    }},
    "root": {"handlers": ["sls"], "level": "INFO"},
})
def work(first):
    for n in range(first, first + 50):
        logging.getLogger("app").info("record %d", n, extra={"n": n})

context = multiprocessing.get_context("fork")
workers = [context.Process(target=work, args=(first,)) for first in (0, 50, 100)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
    assert worker.exitcode == 0
"""


def test_a_multiprocessing_childs_records_are_stored_before_it_ends(sls, configured, tmp_path):
    """A multiprocessing child ends with os._exit(), without logging.shutdown(): its records (held 30 s in the queue
    here) are sent from multiprocessing's exit hook."""
    run(sls, configured, MULTIPROCESSING, tmp_path)
    assert once_each(stored(sls), range(150))

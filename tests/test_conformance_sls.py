"""Conformance matrix: every LogClient method the emulator serves is called once right after a revoking rotation and
succeeds through ProxyLogClient with exactly one GetSecretValue, after exactly one request refused with the old key,
signed with LogClient's v1 and v4 signatures; what a call writes is stored once.

CALLS is also what the "Which calls heal" table of docs/sdk/log-service.md is checked against (tests/test_docs.py).
One emulator serves the whole module; each case has its own secret and logstore. That the emulator answers these
requests as the service does is proven with the plain LogClient in tests/test_emulator_sls.py.
"""

import itertools
import time
from typing import Any, Callable, Dict, List

import pytest
import tenacity
from aliyun.log import ListLogstoresRequest, LogClient, LogItem, PutLogsRequest
from aliyun.log.proto import LogGroupRaw

from credentials import StaticCredentialsProvider
from credentials.config import KmsEndpoint
from credentials.kms.client import KmsClient
from credentials.managed import ManagedSecretProvider
from proxy import ProxyLogClient

PROJECT = "conformance"
Call = Callable[[LogClient, str], Any]


def _items(*numbers: int) -> List[LogItem]:
    return [LogItem(timestamp=int(time.time()), contents=[("n", str(n))]) for n in numbers]


def _log_group(number: int) -> LogGroupRaw:
    group = LogGroupRaw()
    log = group.Logs.add()
    log.Time = int(time.time())
    content = log.Contents.add()
    content.Key, content.Value = "n", str(number).encode()
    return group


def _cursor(client: LogClient, logstore: str) -> str:
    return client.get_begin_cursor(PROJECT, logstore, 0).get_cursor()


# method -> the call made right after the rotation (the logstore holds records "0" and "1" before it).
CALLS: Dict[str, Call] = {
    "put_logs": lambda c, ls: c.put_logs(PutLogsRequest(PROJECT, ls, "", "", _items(2))),
    "put_log_raw": lambda c, ls: c.put_log_raw(PROJECT, ls, _log_group(2)),
    "list_logstores": lambda c, ls: c.list_logstores(ListLogstoresRequest(PROJECT)).get_logstores(),
    "list_logstore": lambda c, ls: c.list_logstore(PROJECT, ls).get_logstores(),
    "get_cursor": lambda c, ls: c.get_cursor(PROJECT, ls, 0, "begin").get_cursor(),
    "get_begin_cursor": lambda c, ls: c.get_begin_cursor(PROJECT, ls, 0).get_cursor(),
    "get_end_cursor": lambda c, ls: c.get_end_cursor(PROJECT, ls, 0).get_cursor(),
    "pull_logs": lambda c, ls: [
        log["n"]
        for log in c.pull_logs(PROJECT, ls, 0, "MA==").get_flatten_logs_json()  # the cursor of record 0
    ],
    "pull_log": lambda c, ls: [
        log["n"]
        for response in c.pull_log(PROJECT, ls, 0, int(time.time()) - 3600, "end")
        for log in response.get_flatten_logs_json()
    ],
}

# What each call must return or leave behind, where that says more than "it returned".
_EFFECTS: Dict[str, Callable[[Any, Any, str], bool]] = {
    "put_logs": lambda cloud, result, ls: _stored(cloud, ls) == ["0", "1", "2"],
    "put_log_raw": lambda cloud, result, ls: _stored(cloud, ls) == ["0", "1", "2"],
    "list_logstores": lambda cloud, result, ls: ls in result,
    "list_logstore": lambda cloud, result, ls: result == [ls],
    "pull_logs": lambda cloud, result, ls: result == ["0", "1"],
    "pull_log": lambda cloud, result, ls: result == ["0", "1"],
}

_serial = itertools.count()


def _stored(cloud, logstore: str) -> List[str]:
    return [record.get("n") for record in cloud.sls.records(PROJECT, logstore)]


@pytest.fixture
def cloud(shared_cloud_emulator, loopback_names):
    return shared_cloud_emulator


@pytest.fixture
def provider(cloud):
    name = "sls-conformance-%d" % next(_serial)
    cloud.create_secret(name)
    kms = KmsClient(
        [KmsEndpoint(cloud.region_id, cloud.kms_host, "http")],
        StaticCredentialsProvider(*cloud.kms_access_key),
        wait=tenacity.wait_random_exponential(multiplier=0.01, max=0.05),
        read_timeout=3.0,
    )
    provider = ManagedSecretProvider(name, kms)
    provider.get_credentials()
    provider.secret_name = name
    yield provider
    provider.close()


def _signing(cloud, version: str) -> Dict[str, str]:
    return {"auth_version": "v4", "region": cloud.region_id} if version == "v4" else {}


@pytest.mark.parametrize("version", ["v1", "v4"])
@pytest.mark.parametrize("method", sorted(CALLS))
def test_log_client_method_heals_after_a_revocation(cloud, provider, method, version):
    logstore = "store-%d" % next(_serial)
    cloud.sls.create_logstore(PROJECT, logstore)
    with ProxyLogClient(cloud.sls_endpoint, credentials_provider=provider, **_signing(cloud, version)) as client:
        client.put_logs(PutLogsRequest(PROJECT, logstore, "", "", _items(0, 1)))
        old_key = provider.get_credentials().access_key_id
        fetches = cloud.count("GetSecretValue")
        cloud.rotate_secret(provider.secret_name, mode="revoke")
        cloud.reset_counts()

        result = CALLS[method](client, logstore)

        assert cloud.count("GetSecretValue") == 1 and fetches >= 1, "one GetSecretValue for the heal"
        refused = [c for c in cloud.calls if c.service == "sls" and c.code != "OK"]
        assert [(c.access_key_id, c.code) for c in refused] == [(old_key, "Unauthorized")]
        new_key = provider.get_credentials().access_key_id
        assert cloud.count(service="sls", access_key_id=new_key, code="OK") >= 1
        assert _EFFECTS.get(method, lambda *_: True)(cloud, result, logstore), result


def test_the_matrix_names_real_log_client_methods():
    public = {name for name in dir(LogClient) if not name.startswith("_") and callable(getattr(LogClient, name))}
    assert set(CALLS) <= public, set(CALLS) - public

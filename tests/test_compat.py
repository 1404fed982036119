"""Every reach into a dependency's private parts is still there: one test per reach, failing with a message that
names the dependency's version, what it no longer has, and the compat module to fix.

Each reach lives beside the code that needs it: credentials/kms/_acs_compat.py (the KMS client) and
proxy/acs/_compat.py (ProxyAcsClient) for aliyun-python-sdk-core, credentials/tool/_compat.py for
alibabacloud-credentials, proxy/openapi/_compat.py for alibabacloud-tea-openapi (and the cores it sends through,
darabonba-core and alibabacloud-tea), proxy/oss_v2/_compat.py for alibabacloud-oss-v2, proxy/tablestore/_compat.py
for tablestore, proxy/sls/_compat.py for aliyun-log-python-sdk; oss2 and aliyun-mns-sdk need none. These tests read
the SDKs offline (no request is sent) and run in the oldest-versions CI step too (.ci/oldest-versions).
"""

import inspect
import types
from importlib import metadata
from typing import Any, Callable, Iterable, List

import pytest

ACS = ("aliyun-python-sdk-core", "credentials/kms/_acs_compat.py")  # the KMS client's reach
ACS_PROXY = ("aliyun-python-sdk-core", "proxy/acs/_compat.py")  # ProxyAcsClient's reaches
TOOL = ("alibabacloud-credentials", "credentials/tool/_compat.py")
TEA = ("alibabacloud-tea-openapi", "proxy/openapi/_compat.py")
OTS = ("tablestore", "proxy/tablestore/_compat.py")
SLS = ("aliyun-log-python-sdk", "proxy/sls/_compat.py")


def gone(dependency: tuple, what: str) -> str:
    distribution, module = dependency
    return f"{distribution} {metadata.version(distribution)} no longer has {what}; see {module}"


def names_used(function: Callable[..., Any]) -> List[str]:
    """The global and attribute names a function's code (and the code nested in it) refers to."""
    code = getattr(function, "__code__", None)
    stack, names = ([code] if code is not None else []), []
    while stack:
        current = stack.pop()
        names.extend(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return names


def parameters(function: Callable[..., Any]) -> List[str]:
    return list(inspect.signature(function).parameters)


def any_method_uses(cls: type, name: str, methods: Iterable[str] = ()) -> bool:
    chosen = [getattr(cls, m) for m in methods] if methods else [v for v in vars(cls).values() if callable(v)]
    return any(name in names_used(f) for f in chosen)


# --- aliyun-python-sdk-core: credentials/kms/_acs_compat.py (the KMS client), proxy/acs/_compat.py (ProxyAcsClient) ---


def test_acs_make_http_response_signs_with_the_signer_given():
    from aliyunsdkcore.client import AcsClient

    method = getattr(AcsClient, "_make_http_response", None)
    assert callable(method), gone(ACS, "AcsClient._make_http_response (KMS GetSecretValue signs through it)")
    assert parameters(method)[:6] == [
        "self",
        "endpoint",
        "request",
        "read_timeout",
        "connect_timeout",
        "specific_signer",
    ], gone(
        ACS,
        "AcsClient._make_http_response(endpoint, "
        "request, read_timeout, connect_timeout, "
        f"specific_signer): it is {parameters(method)}",
    )


def test_acs_signer_attribute_is_what_signs_requests():
    from aliyunsdkcore.client import AcsClient

    assert "_signer" in names_used(AcsClient.__init__) and "_signer" in names_used(AcsClient._make_http_response), gone(
        ACS_PROXY, "AcsClient._signer as the signer of every request (ProxyAcsClient installs its own)"
    )


def test_acs_endpoint_resolver_attribute_is_what_resolves_endpoints():
    from aliyunsdkcore.client import AcsClient

    assert any_method_uses(AcsClient, "_endpoint_resolver", ("_resolve_endpoint", "add_endpoint")), gone(
        ACS_PROXY, "AcsClient._endpoint_resolver (ProxyAcsClient installs one sharing the endpoint tables)"
    )


def test_acs_key_attributes_are_where_the_constructor_keeps_the_key():
    from aliyunsdkcore.client import AcsClient

    used = names_used(AcsClient.__init__)
    assert "_ak" in used and "_secret" in used, gone(ACS_PROXY, "AcsClient._ak / _secret (ProxyAcsClient clears them)")


def test_acs_constructor_code_builds_the_default_endpoint_resolver():
    from aliyunsdkcore.client import AcsClient

    from proxy.acs._compat import sdk_init_without_endpoint_tables

    init = AcsClient.__init__
    assert isinstance(init, types.FunctionType) and "__builtins__" in init.__globals__, gone(
        ACS_PROXY, "a plain-Python AcsClient.__init__ (its code object is run with one global stubbed)"
    )
    assert "DefaultEndpointResolver" in init.__code__.co_names, gone(
        ACS_PROXY,
        "DefaultEndpointResolver built in AcsClient.__init__ (the stub that skips the endpoint tables "
        "is now a no-op: drop it)",
    )
    assert sdk_init_without_endpoint_tables() is not init


def test_acs_do_action_hook_is_where_every_call_goes_through():
    from aliyunsdkcore.client import AcsClient

    from proxy.acs._compat import DO_ACTION_HOOK

    hook = getattr(AcsClient, DO_ACTION_HOOK, None)
    assert callable(hook), gone(ACS_PROXY, f"AcsClient.{DO_ACTION_HOOK} (ProxyAcsClient overrides it to re-issue)")
    assert parameters(hook) == ["self", "request", "signer"], gone(
        ACS_PROXY, f"AcsClient.{DO_ACTION_HOOK}(request, signer=None): it is {parameters(hook)}"
    )
    for caller in ("do_action_with_exception", "do_action", "implementation_of_do_action"):
        assert DO_ACTION_HOOK in names_used(getattr(AcsClient, caller)), gone(
            ACS_PROXY, f"AcsClient.{caller} calling {DO_ACTION_HOOK} (ProxyAcsClient would no longer heal it)"
        )


def test_acs_logs_a_server_exception_as_the_text_the_proxy_reads_back():
    """aliyunsdkcore's ERROR record of a ServerException (logged before the exception is returned, as text): the
    proxy reads code, message, status and request id back from it to lower a rejected key's record to DEBUG."""
    import json
    import logging

    from aliyunsdkcore.client import AcsClient

    from proxy.acs._compat import SERVER_EXCEPTION_LOGGER, server_exception_in_record

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    sdk_logger = logging.getLogger(SERVER_EXCEPTION_LOGGER)
    keep, saved = Keep(), sdk_logger.level
    sdk_logger.addHandler(keep)
    sdk_logger.setLevel(logging.ERROR)
    body = {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found.", "RequestId": "R1"}
    try:
        client = AcsClient("ak", "secret", "cn-hangzhou")
        returned = client._get_server_exception(404, json.dumps(body).encode(), "ecs.example.com", "")
    finally:
        sdk_logger.removeHandler(keep)
        sdk_logger.setLevel(saved)
    assert [r.levelname for r in records] == ["ERROR"], gone(
        ACS_PROXY, f"its ERROR record of a ServerException on logger {SERVER_EXCEPTION_LOGGER!r}"
    )
    read = server_exception_in_record(records[0])
    assert read is not None, gone(ACS_PROXY, f"the record text server_exception_in_record reads: {records[0].msg!r}")
    fields = ("get_error_code", "get_error_msg", "get_http_status", "get_request_id")
    assert [getattr(read, f)() for f in fields] == [getattr(returned, f)() for f in fields]


def test_acs_default_endpoint_chain_is_the_one_proxy_endpoints_copies():
    from aliyunsdkcore.endpoint.default_endpoint_resolver import DefaultEndpointResolver
    from aliyunsdkcore.endpoint.resolver_endpoint_request import ResolveEndpointRequest

    from proxy.acs.endpoints import SharedTablesEndpointResolver

    theirs = DefaultEndpointResolver(client=None)
    chain = getattr(getattr(theirs, "_resolver", None), "endpoint_resolvers", None)
    assert chain is not None, gone(
        ACS_PROXY,
        "DefaultEndpointResolver._resolver.endpoint_resolvers (the chain that proxy/acs/endpoints.py copies, in order)",
    )
    ours = SharedTablesEndpointResolver(client=None)
    try:
        ours.resolve(ResolveEndpointRequest("cn-hangzhou", "Ecs", "ecs", "openAPI"))
    except Exception:  # noqa: BLE001 - only the chain it built matters here
        pass
    assert [type(r) for r in chain] == [type(r) for r in ours._chain.endpoint_resolvers], gone(
        ACS_PROXY,
        "the endpoint chain proxy/acs/endpoints.py copies: DefaultEndpointResolver now chains "
        f"{[type(r).__name__ for r in chain]}",
    )


# --- alibabacloud-credentials: credentials/tool/_compat.py -------------------------------------------


def test_tool_ecs_provider_keeps_its_metadata_host_in_the_mangled_attribute():
    from alibabacloud_credentials.provider import EcsRamRoleCredentialsProvider

    from credentials.tool._compat import METADATA_HOST_ATTRIBUTE, set_metadata_host

    provider = EcsRamRoleCredentialsProvider(role_name="app", async_update_enabled=False)
    assert any_method_uses(EcsRamRoleCredentialsProvider, METADATA_HOST_ATTRIBUTE) and set_metadata_host(
        provider, "127.0.0.1:1"
    ), gone(
        TOOL,
        f"EcsRamRoleCredentialsProvider.{METADATA_HOST_ATTRIBUTE} (how "
        "ecs_ram_role is pointed at another metadata host)",
    )
    assert getattr(provider, METADATA_HOST_ATTRIBUTE) == "127.0.0.1:1"


def test_tool_reads_credentials_ini_with_load_ini(tmp_path):
    from credentials.tool._compat import load_ini

    path = tmp_path / "credentials.ini"
    path.write_text("[default]\ntype = access_key  # a comment\naccess_key_id = id\n", encoding="utf-8")
    try:
        loaded = load_ini(str(path))
    except (ImportError, AttributeError):
        raise AssertionError(gone(TOOL, "alibabacloud_credentials.provider.profile._load_ini")) from None
    assert loaded == {"default": {"type": "access_key", "access_key_id": "id"}}, gone(
        TOOL, f"_load_ini's comment and whitespace rules: it read {loaded}"
    )


def test_tool_builds_an_ini_profile_provider():
    from alibabacloud_credentials.provider import ProfileCredentialsProvider

    from credentials.tool._compat import ini_profile_provider

    assert callable(getattr(ProfileCredentialsProvider, "_get_credentials_provider", None)), gone(
        TOOL, "ProfileCredentialsProvider._get_credentials_provider(section)"
    )
    built = ini_profile_provider(
        "/nonexistent/credentials.ini",
        "default",
        {"type": "access_key", "access_key_id": "id", "access_key_secret": "s"},
    )
    assert built.get_credentials().get_access_key_id() == "id"


def test_tool_builds_a_cli_profile_provider():
    from alibabacloud_credentials.provider import CLIProfileCredentialsProvider

    from credentials.tool._compat import cli_profile_provider

    assert callable(getattr(CLIProfileCredentialsProvider, "_get_credentials_provider", None)), gone(
        TOOL, "CLIProfileCredentialsProvider._get_credentials_provider(config, profile_name)"
    )
    config = {
        "current": "p",
        "profiles": [{"name": "p", "mode": "AK", "access_key_id": "id", "access_key_secret": "s"}],
    }
    built = cli_profile_provider("/nonexistent/config.json", "p", config)
    assert built.get_credentials().get_access_key_id() == "id"


def test_tool_sts_providers_keep_their_endpoint_and_signing_provider():
    from alibabacloud_credentials.provider import (
        OIDCRoleArnCredentialsProvider,
        RamRoleArnCredentialsProvider,
        StaticAKCredentialsProvider,
    )

    from credentials.tool._compat import with_sts_endpoint

    inner = RamRoleArnCredentialsProvider(
        credentials_provider=StaticAKCredentialsProvider(access_key_id="id", access_key_secret="s"),
        role_arn="acs:ram::1:role/inner",
    )
    outer = RamRoleArnCredentialsProvider(credentials_provider=inner, role_arn="acs:ram::1:role/outer")
    oidc = OIDCRoleArnCredentialsProvider(
        role_arn="acs:ram::1:role/o", oidc_provider_arn="acs:ram::1:oidc/p", oidc_token_file_path="/nonexistent/token"
    )
    for cls, provider in ((RamRoleArnCredentialsProvider, outer), (OIDCRoleArnCredentialsProvider, oidc)):
        assert hasattr(provider, "_sts_endpoint") and any_method_uses(cls, "_sts_endpoint"), gone(
            TOOL, f"{cls.__name__}._sts_endpoint (how a profile is pointed at $ALIBABA_CLOUD_STS_ENDPOINT)"
        )
    assert getattr(outer, "_credentials_provider", None) is inner, gone(
        TOOL, "RamRoleArnCredentialsProvider._credentials_provider (the provider it signs AssumeRole with)"
    )
    with_sts_endpoint(outer, "127.0.0.1:2")
    assert outer._sts_endpoint == inner._sts_endpoint == "127.0.0.1:2"


# --- alibabacloud-tea-openapi: proxy/openapi/_compat.py --------------------------------------------------------------


def test_tea_client_keeps_its_endpoint():
    from alibabacloud_tea_openapi.client import Client
    from alibabacloud_tea_openapi.models import Config

    from proxy.openapi._compat import endpoint_of

    assert endpoint_of(Client(Config(endpoint="ecs.example.test"))) == "ecs.example.test", gone(
        TEA, "Client._endpoint (shown by ProxyOpenApiClient's repr)"
    )


def _pooled_sessions_are_where_the_fork_hook_looks(core: Any, dependency: tuple) -> None:
    from proxy.openapi._compat import pooled_sessions

    where = f"{core.__module__}.{core.__name__}"
    held = getattr(core, "_sessions", None)
    assert isinstance(held, dict), gone(dependency, f"{where}._sessions (its pooled sessions, renewed after a fork)")
    getter = getattr(core, "_get_session", None)
    sends_through_it = callable(getter) and "_get_session" in names_used(core.do_action)
    assert sends_through_it and "_sessions" in names_used(getter), gone(
        dependency, f"{where}.do_action sending through the sessions kept in {where}._sessions"
    )
    sentinel = object()
    held["managed-credentials-compat-test"] = sentinel
    try:
        assert any(session is sentinel for session in pooled_sessions()), gone(dependency, f"{where}._sessions")
    finally:
        held.pop("managed-credentials-compat-test", None)


def test_tea_keeps_its_pooled_sessions_where_a_forked_child_renews_them():
    """proxy/openapi/credential.py gives a forked child new connections on the sessions pooled_sessions() finds:
    those of the core tea-openapi sends through (darabonba-core's DaraCore for 0.4, Tea's TeaCore for 0.3)."""
    import alibabacloud_tea_openapi.client as tea_client

    if hasattr(tea_client, "DaraCore"):
        _pooled_sessions_are_where_the_fork_hook_looks(tea_client.DaraCore, ("darabonba-core", TEA[1]))
    else:
        assert hasattr(tea_client, "TeaCore"), gone(TEA, "a DaraCore or TeaCore that its Client sends through")
        _pooled_sessions_are_where_the_fork_hook_looks(tea_client.TeaCore, ("alibabacloud-tea", TEA[1]))


def test_tea_core_of_the_credentials_tool_keeps_its_pooled_sessions_too():
    """The Credentials tool (and tea-openapi 0.3) send through Tea's TeaCore: its sessions are renewed too."""
    from Tea.core import TeaCore

    _pooled_sessions_are_where_the_fork_hook_looks(TeaCore, ("alibabacloud-tea", TEA[1]))


# --- tablestore: proxy/tablestore/_compat.py (ProxyOTSClient) ---------------------------------------------------------


def test_tablestore_sends_every_request_through_its_request_hooks_with_one_snapshot_each():
    """ProxyOTSClient re-issues by overriding these hooks: each must still be the whole request (one
    get_credentials(), one RequestContext, send and check), called by the public methods."""
    from tablestore import OTSClient

    from proxy.tablestore._compat import REQUEST_HOOKS

    first, vectors = REQUEST_HOOKS
    hook = getattr(OTSClient, first, None)
    assert callable(hook), gone(OTS, f"OTSClient.{first} (every request goes through it)")
    assert parameters(hook)[:2] == ["self", "api_name"], gone(OTS, f"OTSClient.{first}(self, api_name, ...)")
    used = names_used(hook)
    assert used.count("get_credentials") == 1 and "RequestContext" in used, gone(
        OTS, f"OTSClient.{first} reading the credentials provider once per request (a RequestContext)"
    )
    for method in ("list_table", "put_row", "get_row", "create_table"):
        assert first in names_used(getattr(OTSClient, method)), gone(OTS, f"OTSClient.{method} calling {first}")
    other = getattr(OTSClient, vectors, None)  # tablestore >= 6.4 only
    if other is not None:
        assert parameters(other)[:3] == ["self", "api_name", "request"], gone(OTS, f"OTSClient.{vectors}")
        assert names_used(other).count("get_credentials") == 1, gone(OTS, f"{vectors} reading the key once")


def test_tablestore_logs_a_refused_request_as_the_text_the_proxy_reads_back():
    """tablestore logs each error answer at ERROR on the client's logger, as text, before it raises: ProxyOTSClient
    reads the error back from that text (service_error_in_record) to lower the record of an attempt it re-issues.
    Driven offline: the SDK's own error handling, given the answer Tablestore sends for a deleted key."""
    import logging

    import tablestore.protobuf.table_store_pb2 as pb2
    from tablestore import OTSClient, OTSServiceError

    from proxy.tablestore._compat import service_error_in_record

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    client = OTSClient("http://127.0.0.1:9", "LTAI5tKeyId", "secret", "inst", logger_name="tests.compat.ots")
    keep, saved = Keep(), client.logger.level
    client.logger.addHandler(keep)
    client.logger.setLevel(logging.ERROR)
    answer = pb2.Error(code="OTSAuthFailed", message="The AccessKeyID does not exist.").SerializeToString()
    try:
        with pytest.raises(OTSServiceError) as raised:
            client.protocol.handle_error(
                "PutRow", "/PutRow", 403, "Forbidden", {"x-ots-requestid": "R1"}, answer, client._signer, None
            )
    finally:
        client.logger.removeHandler(keep)
        client.logger.setLevel(saved)
    assert [r.levelname for r in records] == ["ERROR"], gone(
        OTS, f"its ERROR record of a refused request on the client's logger (logger_name=); it logged {records}"
    )
    read = service_error_in_record(records[0], "tests.compat.ots")
    assert read is not None, gone(OTS, f"the record text service_error_in_record reads: {records[0].getMessage()!r}")
    fields = ("get_http_status", "get_error_code", "get_error_message", "get_request_id")
    assert [getattr(read, f)() for f in fields] == [getattr(raised.value, f)() for f in fields]
    assert service_error_in_record(records[0], "tablestore-client") is None  # another client's logger: not its record


# --- aliyun-log-python-sdk: proxy/sls/_compat.py (ProxyLogClient) ---------------------------------------------------


def test_sls_send_hook_is_where_every_request_goes_through():
    """ProxyLogClient re-issues in LogClient._send: it must still take the request whole (so that calling it again
    sends it again), sign inside (so each attempt is signed anew) and be what the public methods call."""
    pytest.importorskip("aliyun.log")  # the .[sls] extra
    from aliyun.log.logclient import LogClient

    from proxy.sls._compat import SEND_HOOK

    hook = getattr(LogClient, SEND_HOOK, None)
    assert callable(hook), gone(SLS, f"LogClient.{SEND_HOOK} (ProxyLogClient overrides it to re-issue)")
    assert parameters(hook)[:7] == ["self", "method", "project", "body", "resource", "params", "headers"], gone(
        SLS, f"LogClient.{SEND_HOOK}(method, project, body, resource, params, headers, ...): it is {parameters(hook)}"
    )
    assert "sign_request" in names_used(hook), gone(SLS, f"the signing inside LogClient.{SEND_HOOK}")
    for caller in ("put_logs", "put_log_raw", "get_cursor", "pull_logs", "list_logstore", "list_logstores"):
        assert SEND_HOOK in names_used(getattr(LogClient, caller)), gone(
            SLS, f"LogClient.{caller} calling {SEND_HOOK} (ProxyLogClient would no longer heal it)"
        )
    public = [getattr(LogClient, name) for name in dir(LogClient) if not name.startswith("_")]
    assert sum(SEND_HOOK in names_used(method) for method in public if callable(method)) >= 100


def test_sls_session_is_where_the_client_keeps_its_connections():
    """After a fork and at shutdown ProxyLogClient renews or closes the requests.Session that sdk_session() finds:
    any Session a LogClient holds must be that one (older releases hold none)."""
    pytest.importorskip("aliyun.log")  # the .[sls] extra
    import requests
    from aliyun.log.logclient import LogClient

    from proxy.sls._compat import sdk_session

    client = LogClient("127.0.0.1:9", "LTAI5tKeyId", "secret", source="10.0.0.1")  # sends nothing
    sessions = [name for name, value in vars(client).items() if isinstance(value, requests.Session)]
    assert sessions in ([], ["_session"]), gone(SLS, f"LogClient._session (it keeps its Session in {sessions})")
    assert (sdk_session(client) is not None) == bool(sessions)

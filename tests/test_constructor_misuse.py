"""Constructor misuse explained (issue 11 g): the plain SDK's (or the older plugin's) arguments given to a proxy are
a TypeError / ValueError that says what to write instead, raised before anything is contacted, never showing a
value that may be a secret."""

import oss2
import pytest

from credentials import StaticCredentialsProvider
from proxy import ManagedCredentialsClient, ProxyAcsClient, ProxyBucket, ProxyService, SdkCoreAKExpireHandler

PASTED_SECRET = "CANARY0pastedAccessKeySecret0x"


class OlderPluginHandler:
    """The older plugin's handler is its own class, not ours: anything with judge_ak_expire is one."""

    def judge_ak_expire(self, exception):
        return False


def raised(kind, make):
    with pytest.raises(kind) as info:
        make()
    text = str(info.value)
    assert PASTED_SECRET not in text
    return text


def test_the_acs_client_form_ak_secret_region_says_what_to_write():
    text = raised(TypeError, lambda: ProxyAcsClient("LTAI5tPastedKeyId", PASTED_SECRET, "cn-hangzhou"))
    assert "AcsClient's (ak, secret, region_id, ...) form does not apply" in text
    assert "ProxyAcsClient('my-ram-secret', region_id='cn-hangzhou')" in text and "credentials_provider=" in text


def test_the_acs_client_form_without_a_region_is_not_taken_for_one():
    """ProxyAcsClient(ak, secret): the secret would land in region_id (and in the client's repr)."""
    text = raised(ValueError, lambda: ProxyAcsClient("LTAI5tPastedKeyId", PASTED_SECRET))
    assert "region_id is not a region id" in text and "StaticCredentialsProvider" in text


@pytest.mark.parametrize("handler", [SdkCoreAKExpireHandler(), OlderPluginHandler()], ids=["ours", "older-plugin"])
def test_a_handler_where_region_id_goes_is_refused(handler):
    """The older plugin's second positional parameter is ak_expire_handler; ours is region_id."""
    text = raised(TypeError, lambda: ProxyAcsClient("my-ram-secret", handler))
    assert "ak_expire_handler=handler" in text and "region_id" in text


@pytest.mark.parametrize("region", [1, b"cn-hangzhou", ["cn-hangzhou"]])
def test_a_region_id_that_is_not_a_string_is_refused(region):
    text = raised(TypeError, lambda: ProxyAcsClient("my-ram-secret", region_id=region))
    assert "region_id must be a region id such as 'cn-hangzhou' (a str)" in text and type(region).__name__ in text


@pytest.mark.parametrize(
    "auth",
    [
        oss2.Auth("LTAI5tPastedKeyId", PASTED_SECRET),
        oss2.StsAuth("STS.Pasted", PASTED_SECRET, "token"),
        oss2.AnonymousAuth(),
    ],
    ids=["Auth", "StsAuth", "AnonymousAuth"],
)
def test_an_oss2_auth_where_the_secret_name_goes_says_what_to_write(auth):
    text = raised(TypeError, lambda: ProxyBucket(auth, "http://127.0.0.1:9", "bucket"))
    assert "ProxyBucket takes the name of a managed secret where oss2 takes an auth object" in text
    assert "ProxyBucket('my-ram-secret', endpoint, ...)" in text
    text = raised(TypeError, lambda: ProxyService(auth, "http://127.0.0.1:9"))
    assert "ProxyService takes the name of a managed secret" in text


def test_a_provider_passed_first_goes_to_credentials_provider():
    provider = StaticCredentialsProvider("LTAI5tPastedKeyId", PASTED_SECRET)
    for make, name in (
        (lambda: ProxyAcsClient(provider), "ProxyAcsClient"),
        (lambda: ProxyBucket(provider, "http://127.0.0.1:9", "b"), "ProxyBucket"),
        (lambda: ManagedCredentialsClient(provider), "ManagedCredentialsClient"),
    ):
        text = raised(TypeError, make)
        assert f"write {name}(credentials_provider=provider" in text


def test_region_ids_as_the_cloud_names_them_are_accepted(cloud):
    """The check refuses nothing real: regions of every form, and None (as AcsClient takes it)."""
    provider = StaticCredentialsProvider("LTAI5tExampleKeyId", "example")
    for region in ("cn-hangzhou", "ap-southeast-1", "cn-shanghai-finance-1", "cn-north-2-gov-1", "me-east-1", None):
        ProxyAcsClient(credentials_provider=provider, region_id=region).shutdown()


def _key_keyword_cases():
    """(constructor, keyword) for each proxy that refuses the plain SDK's key keywords (proxy/source.py's
    refuse_key_arguments): the keyword, given a value, is a ValueError naming it and never showing the value."""
    cases = [
        (lambda **kw: ProxyAcsClient("my-ram-secret", region_id="cn-hangzhou", **kw), name)
        for name in ("ak", "secret", "credential", "public_key_id", "private_key")
    ]
    from proxy import ProxyLogClient, ProxyMnsAccount, ProxyOTSClient, ProxyQueuedLogHandler

    cases += [
        (lambda **kw: ProxyMnsAccount("http://1.mns.cn-hangzhou.aliyuncs.com", "my-ram-secret", **kw), name)
        for name in ("access_id", "access_key", "security_token")
    ]
    cases += [
        (
            lambda **kw: ProxyOTSClient(
                "https://i.cn-hangzhou.ots.aliyuncs.com", instance_name="i", secret_name="my-ram-secret", **kw
            ),
            name,
        )
        for name in ("access_key_id", "access_key_secret", "sts_token")
    ]
    cases += [
        (lambda **kw: ProxyLogClient("cn-hangzhou.log.aliyuncs.com", "my-ram-secret", **kw), name)
        for name in ("accessKeyId", "accessKey", "securityToken")
    ]
    cases += [
        (
            lambda **kw: ProxyQueuedLogHandler(
                secret_name="my-ram-secret", end_point="e", project="p", log_store="l", **kw
            ),
            name,
        )
        for name in ("access_key_id", "access_key")
    ]
    return cases


@pytest.mark.parametrize("make, keyword", _key_keyword_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_plain_sdks_key_keywords_are_refused_naming_the_keyword(make, keyword):
    text = raised(ValueError, lambda: make(**{keyword: PASTED_SECRET}))
    assert f"not {keyword}=" in text and "secret_name= or credentials_provider=" in text


def test_an_empty_security_token_the_sdks_default_is_dropped_not_refused(cloud):
    """Account's own default is security_token=""; a migrated call that still says so is not an error."""
    from proxy import ProxyMnsAccount

    account = ProxyMnsAccount(
        cloud.mns_endpoint, credentials_provider=StaticCredentialsProvider("k", "s"), security_token=""
    )
    account.shutdown()

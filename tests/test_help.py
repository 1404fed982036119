"""help() of each public class stands on its own: our constructor's parameters, what heals and what does not (and
why), and not the SDK's documentation of every method again (a reader looking for the proxy's behaviour finds it on
the first screen)."""

import inspect
import pydoc

import oss2
import pytest
from aliyunsdkcore.client import AcsClient

import credentials
import proxy


def page(cls: type) -> str:
    return pydoc.render_doc(cls, renderer=pydoc.plaintext)


def first_screen(cls: type) -> str:
    """The class docstring and our __init__'s: what help() shows before the method list."""
    return (inspect.getdoc(cls) or "") + "\n" + (inspect.getdoc(cls.__init__) or "")


def one_line_signatures(lines):
    """pydoc's lines with each signature on one line, as before Python 3.13 (which puts a long signature's
    parameters one per line): a length bound that means the same on every Python."""
    folded, open_signature = [], None
    for line in lines:
        if open_signature is not None:
            open_signature += " " + line.lstrip(" |")
            if line.lstrip(" |").startswith(")"):
                folded.append(open_signature)
                open_signature = None
        elif line.rstrip().endswith("("):
            open_signature = line.rstrip()
        else:
            folded.append(line)
    return folded + ([open_signature] if open_signature is not None else [])


PROXIES = [
    "ProxyAcsClient",
    "ProxyBucket",
    "ProxyService",
    "ProxyOpenApiClient",
    "ProxyOssClient",
    "ProxyAsyncOssClient",
    "ProxyMnsAccount",
    "ProxyOTSClient",
    "ProxyLogClient",
]


@pytest.mark.parametrize("name", PROXIES + ["ManagedCredentialsClient", "ManagedOssCredentialsProvider"])
def test_each_proxy_documents_its_own_constructor_and_what_heals(name):
    cls = getattr(proxy, name)
    text = first_screen(cls)
    assert "secret_name" in text and "credentials_provider" in text, text
    assert "Initialize self" not in page(cls).split("Method resolution order")[0]
    if name in PROXIES:
        assert "What heals" in text and ("not re-issued" in text or "What does not heal" in text), text
        assert "ak_expire_handler" in text
    else:
        assert "re-issue" in text, text  # a credential alone does not re-issue: it says so, and what does


def test_proxy_acs_client_shows_our_constructor_not_acs_clients():
    text = page(proxy.ProxyAcsClient)
    ours = text.split("Methods inherited from")[0]
    assert ":param ak:" not in ours and ":param secret:" not in ours  # AcsClient.__init__'s own docstring
    assert inspect.getdoc(proxy.ProxyAcsClient.__init__) != inspect.getdoc(AcsClient.__init__)
    assert "SdkCoreAKExpireHandler" in ours and "InvalidAccessKeyId.NotFound" in ours


def test_help_of_proxy_bucket_is_short_and_says_what_is_not_reissued_and_why():
    text = page(proxy.ProxyBucket)
    lines = one_line_signatures(text.splitlines())
    assert len(lines) <= 700, len(lines)  # 1,391 lines when every method carried oss2's docstring
    head = "\n".join(lines[:60])  # the first screens: the class docstring
    for sentence in (
        "secret_name",
        "credentials_provider",
        "What heals",
        "sign_url",
        "fails when it is used, by design",
        "get_object_with_url",
        "not re-sent",
    ):
        assert sentence in head, sentence
    assert "oss2.Bucket.sign_url, not re-issued: it makes no request" in text
    assert "oss2.Bucket.put_object_with_url, not re-issued: it replays a URL signed earlier" in text
    assert "oss2.Bucket.put_object, re-issued once the key is refreshed" in text


def test_no_wrapped_method_repeats_the_sdks_docstring():
    """Each wrapper says in one line which SDK method it is and whether it is re-issued; the SDK's own
    documentation stays where help(oss2.Bucket.put_object) finds it."""
    import alibabacloud_oss_v2 as oss

    for ours, theirs in (
        (proxy.ProxyBucket, oss2.Bucket),
        (proxy.ProxyService, oss2.Service),
        (proxy.ProxyOssClient, oss.Client),
    ):
        repeated = []
        for name, member in vars(ours).items():
            sdk = getattr(theirs, name, None)
            sdk_doc = inspect.getdoc(sdk) if callable(sdk) and not name.startswith("_") else None
            if sdk_doc and len(sdk_doc) > 80 and inspect.getdoc(member) == sdk_doc:
                repeated.append(name)
        assert not repeated, f"{ours.__name__} repeats the SDK's docstring of {repeated[:5]}"


@pytest.mark.parametrize(
    "cls",
    [
        credentials.Credentials,
        credentials.CredentialsProvider,
        credentials.RefreshingProvider,
        credentials.StaticCredentialsProvider,
        credentials.ManagedSecretProvider,
        credentials.CredentialsToolProvider,
        proxy.AKExpireHandler,
        proxy.SdkCoreAKExpireHandler,
        proxy.OssAKExpireHandler,
        proxy.TeaAKExpireHandler,
        proxy.OssV2AKExpireHandler,
        proxy.MnsAKExpireHandler,
        proxy.OtsAKExpireHandler,
        proxy.SlsAKExpireHandler,
    ],
    ids=lambda cls: cls.__name__,
)
def test_the_providers_and_handlers_have_a_docstring_of_their_own_for_class_and_constructor(cls):
    assert inspect.getdoc(cls) and cls.__doc__, cls
    if cls.__init__ is object.__init__:
        return  # an abstract contract without a constructor (CredentialsProvider)
    init_doc = inspect.getdoc(cls.__init__)
    assert init_doc and not init_doc.startswith("Initialize self"), (cls, init_doc)

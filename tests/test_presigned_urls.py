"""Presigned URLs through ProxyBucket: a URL is a signature made once, so it lives and dies with the key that
made it (as in the cloud); sign_url after a heal signs with the new key; the *_with_url family is not re-issued."""

import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from urllib.parse import parse_qs, urlsplit

import oss2
import pytest

from credentials.managed import ManagedSecretProvider
from proxy import ProxyBucket


def fetch(url):
    """(status, body or OSS error code) of a plain urllib GET."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, ElementTree.fromstring(err.read()).findtext("Code")


def signer_of(url) -> str:
    query = parse_qs(urlsplit(url).query)
    if "x-oss-credential" in query:
        return query["x-oss-credential"][0].split("/")[0]
    return query["OSSAccessKeyId"][0]


@pytest.fixture(params=["v1", "v4"])
def managed_bucket(request, cloud, kms_client):
    cloud.create_secret("app-key")
    cloud.create_bucket("bkt")
    version = {"auth_version": "v4", "region": cloud.region_id} if request.param == "v4" else {}
    bucket = ProxyBucket(
        credentials_provider=ManagedSecretProvider("app-key", kms_client),
        endpoint=cloud.oss_endpoint,
        bucket_name="bkt",
        **version,
    )
    bucket.put_object("shared.txt", b"hello")
    yield bucket
    bucket.shutdown()


def test_a_url_signed_before_a_revocation_fails_then_sign_url_after_the_heal_uses_the_new_key(cloud, managed_bucket):
    old_id, _ = cloud.current_key("app-key")
    url = managed_bucket.sign_url("GET", "shared.txt", 300)
    assert signer_of(url) == old_id and fetch(url) == (200, b"hello")
    new_id, _ = cloud.rotate_secret("app-key", mode="revoke")
    assert fetch(url) == (403, "InvalidAccessKeyId")  # what the URL's holder sees; nothing can mend it
    assert managed_bucket.get_object("shared.txt").read() == b"hello"  # any call heals the proxy
    fresh = managed_bucket.sign_url("GET", "shared.txt", 300)
    assert signer_of(fresh) == new_id and fetch(fresh) == (200, b"hello")


def test_a_url_lives_through_a_grace_rotation_until_the_old_key_is_deleted(cloud, managed_bucket):
    old_id, _ = cloud.current_key("app-key")
    url = managed_bucket.sign_url("GET", "shared.txt", 300)
    cloud.rotate_secret("app-key", mode="grace")
    assert fetch(url) == (200, b"hello")
    cloud.revoke_key(old_id)
    assert fetch(url) == (403, "InvalidAccessKeyId")


def test_with_url_calls_are_not_re_issued(cloud, managed_bucket):
    url = managed_bucket.sign_url("GET", "shared.txt", 300)
    cloud.rotate_secret("app-key", mode="revoke")
    fetches = cloud.count("GetSecretValue")
    with pytest.raises(oss2.exceptions.ServerError) as info:
        managed_bucket.get_object_with_url(url)
    assert info.value.code == "InvalidAccessKeyId"
    assert cloud.count("GetSecretValue") == fetches  # replaying the old signature could not help: no refresh

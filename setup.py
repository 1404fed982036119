"""Managed-credentials SDK proxy for Alibaba Cloud: AcsClient and oss2.Bucket whose keys rotate under them."""

from setuptools import setup

setup(
    name="managed-credentials-sdk-proxy",
    version="0.1.0",
    description="Drop-in AcsClient / oss2.Bucket / tea-openapi clients that take their AccessKey from KMS Secrets "
    "Manager managed RAM credentials (or the Credentials tool) and heal on key rotation.",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=["credentials", "proxy"],
    package_data={"credentials": ["py.typed"], "proxy": ["py.typed"]},
    install_requires=[
        "aliyun-python-sdk-core>=2.13.33,<3",  # AcsClient(pool_size=) and DEFAULT_POOL_CONNECTIONS from 2.13.33
        "oss2>=2.17,<3",
        "alibabacloud-tea-openapi>=0.3.13,<0.5",  # 0.3.12 pins alibabacloud-credentials<1
        # Imported directly (CredentialsToolProvider, proxy/openapi.py); CLIProfileCredentialsProvider(profile_file=)
        # from 1.0.4. The lower bounds are tested: .ci/oldest-versions.
        "alibabacloud-credentials>=1.0.4,<2",
        "cachetools>=5,<9",
        "tenacity>=8.2,<10",
        # Already installed with oss2; the DKMS gateway client uses it directly. 2.21: alibabacloud-tea's floor.
        "requests>=2.21",
    ],
    extras_require={
        # protobuf is the reference the DKMS codec is checked against (tests/test_dkms.py), cryptography>=43 the
        # current stack CI runs on: the test extra is `.[dkms]` plus those, so README's test command is CI's.
        "test": [
            "pytest>=7",
            "pytest-timeout>=2",
            "hypothesis>=6",
            "cryptography>=43",
            "protobuf>=5",
            "alibabacloud-ecs20140526>=4",
            "aliyun-python-sdk-ecs>=4",  # a generated V1 request class in the ACS conformance matrix
            "alibabacloud-oss-v2>=1.4,<2",
        ],  # the OSS SDK V2 tests: same pin as .[oss-v2]
        # Dedicated KMS instances: our own gateway client (credentials/dkms_gateway.py) needs only what the base
        # install has; cryptography (already there) opens the client key's PKCS#12, and 42 fixed CVE-2024-26130 in
        # that code. The extra is kept so that existing `pip install '...[dkms]'` commands still work.
        "dkms": ["cryptography>=42"],
        # OSS SDK V2 (ProxyOssClient, ProxyAsyncOssClient, ManagedOssCredentialsProvider). Its asyncio client needs
        # aiohttp, which tea-openapi's darabonba-core already brings.
        "oss-v2": ["alibabacloud-oss-v2>=1.4,<2"],
    },
    entry_points={"console_scripts": ["managed-credentials=credentials.__main__:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
    ],
)

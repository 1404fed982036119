"""Managed-credentials SDK proxy for Alibaba Cloud: AcsClient and oss2.Bucket whose keys rotate under them."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def version() -> str:
    """credentials/_version.py's __version__, read as text: building must not import the package."""
    with open(os.path.join(HERE, "credentials", "_version.py"), encoding="utf-8") as handle:
        return re.search(r'^__version__ = "([^"]+)"$', handle.read(), re.M).group(1)


# The documentation site (mkdocs.yml): `mkdocs build --strict` runs in CI and in tests/test_docs.py.
DOCS = ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26"]

setup(
    name="managed-credentials-sdk-proxy",
    version=version(),
    description="Drop-in AcsClient / oss2.Bucket / tea-openapi clients that take their AccessKey from KMS Secrets "
    "Manager managed RAM credentials (or the Credentials tool) and heal on key rotation.",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.9",
    packages=find_packages(include=["credentials", "credentials.*", "proxy", "proxy.*"]),
    package_data={
        "credentials": ["py.typed"],
        "proxy": ["py.typed"],
        # A copy of the root managed_credentials_providers.properties.example (tests/test_packaging.py checks they
        # are identical), so that an installed package has it: `managed-credentials example` prints it.
        "credentials.config": ["managed_credentials_providers.properties.example"],
    },
    install_requires=[
        "aliyun-python-sdk-core>=2.13.33,<3",  # AcsClient(pool_size=) and DEFAULT_POOL_CONNECTIONS from 2.13.33
        "oss2>=2.17,<3",
        "alibabacloud-tea-openapi>=0.3.13,<0.5",  # 0.3.12 pins alibabacloud-credentials<1
        # Imported directly (CredentialsToolProvider, proxy/openapi/); CLIProfileCredentialsProvider(profile_file=) from
        # 1.0.4. The lower bounds are tested: .ci/oldest-versions.
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
            "alibabacloud-oss-v2>=1.4,<2",  # the OSS SDK V2 tests: same pin as .[oss-v2]
            # The emulator's Log Service, Message Service and Tablestore are proven with these SDKs: same pins as
            # .[sls], .[mns], .[tablestore]. (aliyun-log-python-sdk and tablestore take protobuf<6.)
            "aliyun-log-python-sdk>=0.9.16,<1",
            "aliyun-mns-sdk>=1.3.0,<2",
            "tablestore>=6.3.8,<7",
            *DOCS,  # the strict docs build is a test too
            "setuptools>=70.1",  # tests/test_packaging.py builds the wheel offline; bdist_wheel is built in from 70.1
            # The metrics (.[otel]) are read with the OpenTelemetry SDK's in-memory reader (tests/test_metrics.py).
            "opentelemetry-api>=1.12,<2",
            "opentelemetry-sdk>=1.12,<2",
        ],
        "docs": DOCS,
        # Dedicated KMS instances: our own gateway client (credentials/kms/dedicated/) needs only what the base
        # install has; cryptography (already there) opens the client key's PKCS#12, and 42 fixed CVE-2024-26130 in
        # that code. The extra is kept so that existing `pip install '...[dkms]'` commands still work.
        "dkms": ["cryptography>=42"],
        # Benchmarks only: the fleet figure (benchmarks/fleet_figure.py draws docs/img/fleet_revocation.png).
        "bench": ["matplotlib>=3.5"],
        # OSS SDK V2 (ProxyOssClient, ProxyAsyncOssClient, ManagedOssCredentialsProvider). Its asyncio client needs
        # aiohttp, which tea-openapi's darabonba-core already brings.
        "oss-v2": ["alibabacloud-oss-v2>=1.4,<2"],
        # Log Service (LogClient, its logging handlers). LogClient(credentials_provider=) from 0.9.3; before 0.9.16 it
        # requires lz4a==0.7.0, an unmaintained lz4 fork published as source only (a C compiler at install time;
        # before 0.9.8 also protobuf<4).
        "sls": ["aliyun-log-python-sdk>=0.9.16,<1"],
        # Message Service. Account(credentials_provider=) from 1.2.2, but 1.2.x requires aliyun-python-sdk-core-v3 on
        # Python 3: a second distribution of the `aliyunsdkcore` package, installed over aliyun-python-sdk-core.
        "mns": ["aliyun-mns-sdk>=1.3.0,<2"],
        # Tablestore. OTSClient(credentials_provider=) from 6.2.0, but up to 6.3.7 a request reads the provider three
        # times and keeps the secret on the client's one signer (a torn or another thread's key across a refresh);
        # 6.3.8 takes one snapshot per request. (6.2.0-6.3.1 also pin protobuf<=5.27.4, before CVE-2025-4565's fix.)
        "tablestore": ["tablestore>=6.3.8,<7"],
        # OpenTelemetry metrics (credentials/metrics.py): the API only, a no-op until the application installs an SDK.
        # 1.12 is the first release with the stable metrics API (observable gauges with callbacks).
        "otel": ["opentelemetry-api>=1.12,<2"],
    },
    entry_points={"console_scripts": ["managed-credentials=credentials.__main__:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
    ],
)

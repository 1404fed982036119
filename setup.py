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
        "aliyun-python-sdk-core>=2.13,<3",
        "oss2>=2.17,<3",
        "alibabacloud-tea-openapi>=0.3.12,<0.5",
        "cachetools>=5,<9",
        "tenacity>=8.2,<10",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-timeout>=2", "hypothesis>=6", "cryptography>=41",
                 "alibabacloud-ecs20140526>=4",
                 "aliyun-python-sdk-ecs>=4",  # a generated V1 request class in the ACS conformance matrix
                 "alibabacloud-dkms-gcs>=1.0.2,<2"],  # the DKMS tests run in CI too: same pins as .[dkms]
        # Dedicated KMS instances. The SDK pins protobuf<4 and pyopenssl<23.3 (hence cryptography<42), so it is
        # an extra; cryptography opens the client key's PKCS#12 (credentials/dkms_config.py).
        "dkms": ["alibabacloud-dkms-gcs>=1.0.2,<2", "cryptography>=38"],
    },
    entry_points={"console_scripts": ["managed-credentials=credentials.__main__:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
    ],
)

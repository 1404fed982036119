"""The loggers the SDKs log on, by exact name: where credentials/masking/redaction.py attaches its filter.

A filter on a logger sees only the records logged on that very logger, not those of its children, so each module's
``getLogger(__name__)`` is listed. tests/test_sdk_log_redaction.py reads the installed SDKs' sources for every
logger name they use and fails, naming it, when an upgrade adds one.
"""

from typing import Tuple

#: The names the SDKs log on. Loggers are per module, so each module that logs is listed.
SDK_LOGGERS: Tuple[str, ...] = (
    # aliyunsdkcore (and the copy of requests/urllib3 it vendors)
    "aliyunsdkcore",
    "aliyunsdkcore.client",
    "aliyunsdkcore.http.http_response",
    "aliyunsdkcore.retry.retry_condition",
    "aliyunsdkcore.auth.signers.access_key_signer",
    "aliyunsdkcore.auth.signers.sts_token_signer",
    "aliyunsdkcore.auth.signers.rsa_key_pair_signer",
    "aliyunsdkcore.auth.signers.ecs_ram_role_signer",
    "aliyunsdkcore.auth.signers.ram_role_arn_signer",
    "aliyunsdkcore.vendored.requests.packages.urllib3",
    "aliyunsdkcore.vendored.requests.packages.urllib3.connectionpool",
    "aliyunsdkcore.vendored.requests.packages.urllib3.connection",
    "aliyunsdkcore.vendored.requests.packages.urllib3.poolmanager",
    "aliyunsdkcore.vendored.requests.packages.urllib3.response",
    "aliyunsdkcore.vendored.requests.packages.urllib3.util.retry",
    "aliyunsdkcore.vendored.requests.packages.urllib3.contrib.pyopenssl",
    "aliyunsdkcore.vendored.requests.packages.urllib3.contrib.appengine",
    "aliyunsdkcore.vendored.requests.packages.urllib3.contrib.ntlmpool",
    "aliyunsdkcore.vendored.requests.packages.urllib3.packages.socks",
    "aliyunsdkcore.vendored.requests.packages.chardet.charsetprober",
    "aliyunsdkcore.vendored.requests.packages.chardet.codingstatemachine",
    "aliyunsdkcore.vendored.requests.packages.chardet.universaldetector",
    # oss2
    "oss2",
    "oss2.api",
    "oss2.auth",
    "oss2.http",
    "oss2.credentials",
    "oss2.crypto",
    "oss2.crypto_bucket",
    "oss2.models",
    "oss2.resumable",
    "oss2.select_response",
    "oss2.task_queue",
    "oss2.utils",
    "oss2.xml_utils",
    # tea-openapi / darabonba (their DEBUG=sdk output goes through these), the Credentials tool
    "alibabacloud-tea",
    "darabonba-core",
    "credentials",
    # aliyun-mns-sdk logs only on a logger the application gives Account (logger=; the proxy adds the filter to it),
    # by default MNSLogger.get_logger()'s
    "mns_python_sdk",
    # tablestore: the client's logger (OTSClient.DEFAULT_LOGGER_NAME, or logger_name=: the proxy adds the filter to
    # that one) and its codec modules'
    "tablestore-client",
    "tablestore.decoder",
    "tablestore.encoder",
    # aliyun-log-python-sdk (Log Service, the .[sls] extra): its modules, and two names its es_migration tool sets
    # the level of
    "aliyun.log.consumer.consumer_client",
    "aliyun.log.consumer.heart_beat",
    "aliyun.log.consumer.shard_worker",
    "aliyun.log.consumer.tasks",
    "aliyun.log.consumer.worker",
    "aliyun.log.es_migration.migration_manager",
    "aliyun.log.etl_core.config_parser",
    "aliyun.log.etl_core.restrict_config_parser",
    "aliyun.log.etl_core.runner",
    "aliyun.log.etl_core.trans_comp.trans_base",
    "aliyun.log.etl_core.trans_comp.trans_csv",
    "aliyun.log.etl_core.trans_comp.trans_json",
    "aliyun.log.etl_core.trans_comp.trans_kv",
    "aliyun.log.etl_core.trans_comp.trans_lookup",
    "aliyun.log.etl_core.trans_comp.trans_mv",
    "aliyun.log.etl_core.trans_comp.trans_regex",
    "aliyun.log.etl_core.trans_comp.trans_set_field",
    "aliyun.log.etl_core.transform.condition_list",
    "aliyun.log.etl_core.transform.condition_transform",
    "aliyun.log.etl_core.transform.transform_list",
    "aliyun.log.external_store_config",
    "aliyun.log.logclient",
    "aliyun.log.logclient_operator",
    "aliyun.log.logtail_config_detail",
    "aliyun.log.util",
    "requests",
    "elasticsearch",
    # urllib3, under oss2's and tea's requests: it logs every URL with its query string
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "urllib3.contrib.pyopenssl",
    "urllib3.contrib.socks",
    "urllib3.contrib.emscripten",
    "urllib3.contrib.emscripten.response",
    "urllib3.http2.connection",
)

#: Loggers that already exist under these names get the filter as well.
SDK_PREFIXES: Tuple[str, ...] = (
    "aliyunsdkcore",
    "oss2",
    "alibabacloud",
    "darabonba",
    "Tea",
    "urllib3",
    "mns",
    "tablestore",
    "aliyun.log",
)

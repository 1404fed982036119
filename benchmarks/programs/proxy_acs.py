"""The same program after the one-line swap: the key comes from the managed secret. Argv: secret name, host.

The properties file is named by $MANAGED_CREDENTIALS_PROVIDERS_CONFIG.
"""

import sys

from aliyunsdkcore.request import CommonRequest

from proxy import ProxyAcsClient

secret_name, host = sys.argv[1:3]
client = ProxyAcsClient(secret_name, region_id="cn-hangzhou")
request = CommonRequest(domain=host, version="2014-05-26", action_name="DescribeRegions")
request.set_protocol_type("http")
client.do_action_with_exception(request)

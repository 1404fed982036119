"""A legacy program: import, construct an AcsClient with a pasted key, make one call. Argv: key id, secret, host."""

import sys

from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

key_id, key_secret, host = sys.argv[1:4]
client = AcsClient(key_id, key_secret, "cn-hangzhou")
request = CommonRequest(domain=host, version="2014-05-26", action_name="DescribeRegions")
request.set_protocol_type("http")
client.do_action_with_exception(request)

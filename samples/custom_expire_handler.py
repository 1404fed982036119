"""Teach the proxy another error code that means "this key no longer works".

    python samples/custom_expire_handler.py

Some gateways answer a revoked key with their own code. A handler decides
which SDK exceptions trigger a refresh and a re-issue; any other error reaches
the caller unchanged.
"""

from _environment import environment
from aliyunsdkcore.acs_exception.exceptions import ServerException

from proxy import AKExpireHandler, ProxyAcsClient
from proxy.handlers import SDK_CORE_EXPIRED_KEY_CODES


class GatewayAwareHandler(AKExpireHandler):
    """The default codes, plus the one our API gateway uses."""

    def judge_ak_expire(self, exception) -> bool:
        return isinstance(exception, ServerException) and (
            exception.get_error_code() in SDK_CORE_EXPIRED_KEY_CODES
            or exception.get_error_code() == "Gateway.KeyRevoked"
        )


def main() -> None:
    with environment() as env:
        client = ProxyAcsClient(env.secret_name, region_id=env.region_id, ak_expire_handler=GatewayAwareHandler())
        client.do_action_with_exception(env.describe_regions_request())
        print("called DescribeRegions with a custom expire handler")
        if env.cloud is not None:
            env.cloud.rotate_secret(env.secret_name, mode="revoke")
            client.do_action_with_exception(env.describe_regions_request())
            print("a revoked key was recognised by the handler and healed")
        client.shutdown()
    print("custom_expire_handler: OK")


if __name__ == "__main__":
    main()

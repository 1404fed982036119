"""An ECS-style RPC API (2014-05-26): any live key may call it; used to see whether a managed key works."""

from .rpc import RpcCall, RpcError, RpcService

REGIONS = [
    ("cn-hangzhou", "华东1（杭州）"),
    ("cn-shanghai", "华东2（上海）"),
    ("cn-beijing", "华北2（北京）"),
    ("cn-shenzhen", "华南1（深圳）"),
    ("ap-southeast-1", "新加坡"),
    ("us-west-1", "美国（硅谷）"),
]


class EcsService(RpcService):
    name = "ecs"
    version = "2014-05-26"
    product = "Ecs"

    def action_DescribeRegions(self, call: RpcCall) -> dict:
        return {
            "Regions": {
                "Region": [
                    {
                        "RegionId": rid,
                        "RegionEndpoint": "ecs.%s.aliyuncs.com" % rid,
                        "LocalName": local_name,
                        "Status": "available",
                    }
                    for rid, local_name in REGIONS
                ]
            }
        }

    def action_DescribeInstances(self, call: RpcCall) -> dict:
        """Always empty; PageSize outside 1..100 (e.g. 1000) -> 400 InvalidParameter, a non-auth error."""
        page_size = self._int(call, "PageSize", 10)
        page_number = self._int(call, "PageNumber", 1)
        if not 1 <= page_size <= 100:
            raise RpcError(400, "InvalidParameter", 'The specified parameter "PageSize" is not valid.')
        return {"Instances": {"Instance": []}, "TotalCount": 0, "PageNumber": page_number, "PageSize": page_size}

    @staticmethod
    def _int(call: RpcCall, name: str, default: int) -> int:
        raw = call.param(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise RpcError(400, "InvalidParameter", 'The specified parameter "%s" is not valid.' % name)

"""A Container Service (CS, ROA API 2015-12-15) subset: clusters, to prove ROA requests with a managed key.

    GET    /clusters[?name=N]        DescribeClusters       -> [cluster, ...]
    POST   /clusters  {"name": N}    CreateCluster          -> {"cluster_id", "request_id", "task_id"}
    GET    /clusters/{ClusterId}     DescribeClusterDetail  -> cluster (404 ErrorClusterNotFound)
    DELETE /clusters/{ClusterId}     DeleteCluster          -> 202 {"cluster_id", "request_id", "task_id"}

Any live key may call it (the same keys ECS and OSS accept). Clusters live in the service, not in CloudState.
"""

import threading
import time
import uuid
from typing import TYPE_CHECKING, Dict, List, Tuple

from .records import iso8601, random_text
from .roa import RoaCall, RoaService
from .rpc import RpcError
from .state import CloudState

if TYPE_CHECKING:
    from .emulator import CloudEmulator

Answer = Tuple[int, object]


class CsService(RoaService):
    name = "cs"
    version = "2015-12-15"
    product = "CS"
    routes = (
        ("GET", "/clusters", "DescribeClusters"),
        ("POST", "/clusters", "CreateCluster"),
        ("GET", "/clusters/{ClusterId}", "DescribeClusterDetail"),
        ("DELETE", "/clusters/{ClusterId}", "DeleteCluster"),
    )

    def __init__(self, state: CloudState, region_id: str = "cn-hangzhou") -> None:
        super().__init__(state, region_id)
        self._lock = threading.Lock()
        self._clusters: Dict[str, dict] = {}

    def action_DescribeClusters(self, call: RoaCall) -> Answer:
        name = call.param("name")
        with self._lock:
            clusters: List[dict] = [dict(c) for c in self._clusters.values() if name in (None, c["name"])]
        return 200, clusters

    def action_CreateCluster(self, call: RoaCall) -> Answer:
        body = call.json_body()
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise RpcError(400, "ErrorCheckParams", 'The parameter "name" is mandatory.')
        cluster_id = "c" + uuid.uuid4().hex
        cluster = {
            "cluster_id": cluster_id,
            "name": name,
            "region_id": body.get("region_id") or self.region_id,
            "cluster_type": body.get("cluster_type") or "ManagedKubernetes",
            "state": "running",
            "created": iso8601(time.time()),
        }
        with self._lock:
            self._clusters[cluster_id] = cluster
        return 200, {"cluster_id": cluster_id, "request_id": call.request_id, "task_id": "T-" + random_text(20)}

    def action_DescribeClusterDetail(self, call: RoaCall) -> Answer:
        with self._lock:
            cluster = self._clusters.get(call.path_params["ClusterId"])
        if cluster is None:
            raise RpcError(404, "ErrorClusterNotFound", "The specified cluster does not exist.")
        return 200, dict(cluster)

    def action_DeleteCluster(self, call: RoaCall) -> Answer:
        cluster_id = call.path_params["ClusterId"]
        with self._lock:
            if self._clusters.pop(cluster_id, None) is None:
                raise RpcError(404, "ErrorClusterNotFound", "The specified cluster does not exist.")
        return 202, {"cluster_id": cluster_id, "request_id": call.request_id, "task_id": "T-" + random_text(20)}

    @property
    def cluster_count(self) -> int:
        with self._lock:
            return len(self._clusters)


def add_to(cloud: "CloudEmulator") -> CsService:
    """Serve CS on its own port as `cloud.cs` (its host: cloud.cs_host)."""
    service = CsService(cloud.state, cloud.region_id)
    service.listener = cloud.add_service("cs", service)
    cloud.cs = service
    return service

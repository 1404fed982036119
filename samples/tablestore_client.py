"""A tablestore program made managed: ProxyOTSClient(end_point, instance_name=..., secret_name=...).

    python samples/tablestore_client.py

(Not samples/tablestore.py: Python puts a script's folder first on sys.path, so a file of that name would stand in
for the tablestore package itself, for this script and every other one in this folder.)

Before:  client = OTSClient(end_point, "LTAI...", "the-secret-pasted-in-config", "demo-instance")
After:   client = ProxyOTSClient(end_point, instance_name="demo-instance", secret_name="demo-ram-secret")
Against real KMS (a properties file present), set OTS_ENDPOINT and OTS_INSTANCE as well.
"""

import os
import sys

from _environment import environment
from tablestore import (
    CapacityUnit,
    Condition,
    ReservedThroughput,
    Row,
    RowExistenceExpectation,
    TableMeta,
    TableOptions,
)

from proxy import ProxyOTSClient

TABLE = "demo_orders"


def save_and_read(client, order_id: str, status: str) -> str:
    """The application's own code: it knows nothing about secrets or rotation."""
    primary_key = [("id", order_id)]
    client.put_row(TABLE, Row(primary_key, [("status", status)]), Condition(RowExistenceExpectation.IGNORE))
    _, row, _ = client.get_row(TABLE, primary_key, max_version=1)
    return row.attribute_columns[0][1]


def main() -> None:
    with environment() as env:
        if env.cloud is not None:
            endpoint, instance = env.cloud.ots_endpoint, "demo-instance"
            env.cloud.ots.create_instance(instance)  # made in the console for real
        else:
            endpoint, instance = os.environ.get("OTS_ENDPOINT"), os.environ.get("OTS_INSTANCE")
            if not endpoint or not instance:
                sys.exit("set OTS_ENDPOINT and OTS_INSTANCE to run against real KMS")
        with ProxyOTSClient(endpoint, instance_name=instance, secret_name=env.secret_name) as client:
            if TABLE not in client.list_table():
                meta = TableMeta(TABLE, [("id", "STRING")])
                client.create_table(meta, TableOptions(), ReservedThroughput(CapacityUnit(0, 0)))
            print("order-1:", save_and_read(client, "order-1", "placed"))
            if env.cloud is not None:
                env.cloud.rotate_secret(env.secret_name, mode="revoke")
                print("after an emergency rotation, order-1:", save_and_read(client, "order-1", "shipped"))
    print("tablestore_client: OK")


if __name__ == "__main__":
    main()

"""A Log Service (aliyun-log-python-sdk) program on a managed key: ProxyLogClient, and the queued logging handler
configured with logging.config.dictConfig, both through an emergency rotation (the old key revoked at once).

pip install -e '.[sls]'
python samples/log_service.py

Against real KMS and Log Service (a properties file present): also set SLS_ENDPOINT (e.g.
cn-hangzhou.log.aliyuncs.com), SLS_PROJECT and SLS_LOGSTORE.
"""

import contextlib
import logging
import logging.config
import os
import sys
import time

from _environment import environment

try:
    from aliyun.log import LogItem, PutLogsRequest
except ImportError:
    sys.exit("samples/log_service.py needs aliyun-log-python-sdk: pip install -e '.[sls]'")

from proxy import ProxyLogClient


def log_service(env):
    """(endpoint, project, logstore), and a context in which the endpoint is reachable."""
    if env.cloud is None:
        return (
            os.environ["SLS_ENDPOINT"],
            os.environ["SLS_PROJECT"],
            os.environ["SLS_LOGSTORE"],
        ), contextlib.nullcontext()
    from tests.cloud.loopback_names import loopback_names  # the emulator's "<project>.127.0.0.1" names

    env.cloud.sls.create_logstore("demo-project", "app-log")
    return (env.cloud.sls_endpoint, "demo-project", "app-log"), loopback_names()


def main() -> None:
    with environment() as env:
        (endpoint, project, logstore), reachable = log_service(env)
        with reachable, ProxyLogClient(endpoint, env.secret_name) as client:
            item = LogItem(timestamp=int(time.time()), contents=[("event", "started")])
            client.put_logs(PutLogsRequest(project, logstore, "", "", [item]))
            print("put one log with", client)
            if env.cloud is not None:
                env.cloud.rotate_secret(env.secret_name, mode="revoke")
            cursor = client.get_begin_cursor(project, logstore, 0).get_cursor()
            print(
                "after an emergency rotation, read back:",
                client.pull_logs(project, logstore, 0, cursor).get_flatten_logs_json()[:1],
            )

            logging.config.dictConfig(
                {
                    "version": 1,
                    "handlers": {
                        "sls": {
                            "class": "proxy.ProxyQueuedLogHandler",
                            "end_point": endpoint,
                            "project": project,
                            "log_store": logstore,
                            "secret_name": env.secret_name,
                            "put_wait": 0.2,
                        },
                    },
                    "loggers": {"demo": {"handlers": ["sls"], "level": "INFO", "propagate": False}},
                }
            )
            demo = logging.getLogger("demo")
            for n in range(100):
                demo.info("order %d shipped", n)
                if n == 50 and env.cloud is not None:
                    env.cloud.rotate_secret(env.secret_name, mode="revoke")  # while records are being shipped
            handler = demo.handlers[0]
            handler.flush()
            print(f"logged 100 records through another rotation; {handler.dropped} dropped")
            if env.cloud is not None:
                shipped = [r for r in env.cloud.sls.records(project, logstore) if r.get("name") == "demo"]
                assert len(shipped) == 100, len(shipped)
            logging.shutdown()
    print("log_service: OK")


if __name__ == "__main__":
    main()

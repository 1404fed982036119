"""How long ``import credentials, proxy`` takes in a new process on top of aliyunsdkcore's own import (which a legacy
program does anyway). Prints one JSON line: both times in seconds, and the modules each import added."""

import json
import sys
import time

before = len(sys.modules)
t0 = time.perf_counter()
import aliyunsdkcore.client  # noqa: E402, F401
import aliyunsdkcore.request  # noqa: E402, F401

t1 = time.perf_counter()
middle = len(sys.modules)
import credentials  # noqa: E402, F401
import proxy  # noqa: E402, F401

t2 = time.perf_counter()
print(
    json.dumps(
        {"sdk_s": t1 - t0, "ours_s": t2 - t1, "sdk_modules": middle - before, "our_modules": len(sys.modules) - middle}
    )
)

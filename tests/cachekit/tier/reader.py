"""A second process for the invalidation tests: reads one key in a loop through
its own Cache and prints, as JSON lines, every change of the value it sees.

    python -m tests.cachekit.tier.reader OUTPUTS_JSON NAMESPACE KEY SECONDS [MODE]

Each change line: {"value", "t_new" (start of the first read returning it),
"t_last_old" (start of the last read returning the previous value)}; times are
time.monotonic(), which is one clock for every process on the machine.
"""

from __future__ import annotations

import json
import sys
import time

import cachekit


def main() -> None:
    outputs_path, namespace, key, seconds = sys.argv[1:5]
    mode = sys.argv[5] if len(sys.argv) > 5 else "auto"
    with open(outputs_path) as f:
        outputs = json.load(f)
    cache = cachekit.connect(outputs=outputs, namespace=namespace, invalidation=mode)
    print(json.dumps({"ready": cache.linked}), flush=True)
    last, last_t = cache.get(key), time.monotonic()
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        t = time.monotonic()
        value = cache.get(key)
        if value != last:
            print(json.dumps({"value": value, "t_new": t, "t_last_old": last_t}), flush=True)
            last = value
        last_t = t
        time.sleep(0.0002)
    print(json.dumps({"stats": cache.stats()}), flush=True)
    cache.close()


if __name__ == "__main__":
    main()

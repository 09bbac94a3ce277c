"""Container health checks (standard library only).

    python healthcheck.py web [URL]      healthy while the web app answers HTTP below 500
    python healthcheck.py worker [FILE]  healthy while the worker's sweeper touched FILE lately
"""

import os
import sys
import time
import urllib.error
import urllib.request

WEB_URL = "http://127.0.0.1:8420/api/v1/openapi.json"
ALIVE_FILE = "/tmp/daguerre-worker.alive"
ALIVE_SECONDS = 120  # the sweeper touches it every <= 30 s


def web(url: str = WEB_URL) -> int:
    try:
        urllib.request.urlopen(url, timeout=4)
    except urllib.error.HTTPError as exc:
        return int(exc.code >= 500)  # 401 still means the app is serving
    except OSError:
        return 1
    return 0


def worker(path: str = ALIVE_FILE) -> int:
    try:
        return int(time.time() - os.stat(path).st_mtime > ALIVE_SECONDS)
    except OSError:
        return 1


if __name__ == "__main__":
    mode, *rest = sys.argv[1:] or ["web"]
    sys.exit({"web": web, "worker": worker}[mode](*rest))

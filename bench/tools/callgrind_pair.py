"""Instructions per request of two leash-load builds side by side, under callgrind, against
one nginx answering 512 B from memory on 127.0.0.1 (start-up cancels out: the difference of a run of N1 and
one of N2 requests, divided by N2 - N1). Needs valgrind and nginx.

    python3 bench/tools/callgrind_pair.py BEFORE/leash-load AFTER/leash-load [-n1 2000] [-n2 12000] [-c 16]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as B  # noqa: E402
import compare as C  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("-n1", type=int, default=2000)
    ap.add_argument("-n2", type=int, default=12000)
    ap.add_argument("-c", type=int, default=16)
    args = ap.parse_args()
    with B.Nginx(core=C.SERVER_CORE) as server:
        url = server.url(B.MEMORY)
        per = {}
        for name, binary in (("before", args.before), ("after", args.after)):
            def argv_for(u, n, binary=binary):
                return [binary, "-n", str(n), "-c", str(args.c), u]
            per[name] = C.callgrind_per_request(argv_for, url, args.n1, args.n2)
            print("%-6s %8.0f instructions per request  (%s)" % (name, per[name], binary), flush=True)
        print("after/before %.3f" % (per["after"] / per["before"]))


if __name__ == "__main__":
    main()

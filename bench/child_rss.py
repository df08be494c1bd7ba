"""Run a command and print its peak RSS (`peak_rss_kb=N`) on stderr: a process of its own, so the figure
is that command's alone and not the largest of everything the benchmark ran before.

    python -m bench.child_rss <command> [args...]
"""

from __future__ import annotations

import resource
import subprocess
import sys


def main() -> int:
    code = subprocess.call(sys.argv[1:])
    print(f"peak_rss_kb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

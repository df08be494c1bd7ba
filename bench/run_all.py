"""All the benchmarks, one after another (`make bench`); exits non-zero if a target was missed."""

from __future__ import annotations

import sys

from bench import grid_scale, leak_scan, p1_ack, p2_modal, p3_sweep, p4_startup, p5_rotation, playground


def main() -> int:
    results = [module.main([]) for module in (p1_ack, p2_modal, p3_sweep, p4_startup, p5_rotation, leak_scan,
                                                   playground, grid_scale)]
    return 1 if any(results) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Leak watch: the shape check of a 4,000-character message must take <= 50 us on this machine, so a busy
channel (or a bot posting) never holds the bot up. Measured on ordinary text (the common case: no
candidate), on text full of long words and URLs, and on a message with a key in it.

    python -m bench.leak_scan [--repeat 20000]
"""

from __future__ import annotations

import argparse
import sys
import timeit

from bench.common import report
from bot.domain.leaks import candidates
from bot.playground.heimdall_model import make_key_value

PROSE = ("Deploying the nightly loader now; the dashboards at https://grafana.example.com/d/abc123 should "
         "update within the hour. Ping me if the numbers look off — thanks! ")
LONG_WORDS = ("internationalisation_configuration_parameters " * 100 + "a1b2c3d4e5f6g7h8i9j0" * 50)


def per_call_us(text: str, repeat: int) -> float:
    return min(timeit.repeat(lambda: candidates(text), number=repeat, repeat=5)) / repeat * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20_000)
    args = parser.parse_args(argv)
    prose = (PROSE * 40)[:4000]
    words = LONG_WORDS[:4000]
    with_key = (prose[:2000] + " " + make_key_value("etl_job") + " " + prose)[:4000]
    figures = {name: per_call_us(text, args.repeat) for name, text in
               (("ordinary text", prose), ("long words and URLs", words), ("with a key in it", with_key))}
    ok = report("Leak watch shape check, 4,000-character messages", [
        (name, f"{us:.1f} us", "<= 50 us" if name != "with a key in it" else "-",
         us <= 50 if name != "with a key in it" else None) for name, us in figures.items()])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

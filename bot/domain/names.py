"""Key names in DataOS's own style (`token_<adverb>_<adverb>_<adjective>_<animal>`).

The bot names an unnamed key itself instead of leaving it to DataOS: a create whose answer was lost
can then be retried with `use_existing`, which needs a name, and never makes a second key.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from bot.domain.keys import NAME_MAX_LENGTH

ADVERBS = ("hopefully", "loudly", "quietly", "boldly", "gently", "swiftly", "calmly", "wisely", "brightly",
           "neatly", "kindly", "openly", "warmly", "simply", "freely", "deeply")
ADJECTIVES = ("striking", "brave", "shiny", "sleepy", "clever", "eager", "fancy", "jolly", "witty", "mellow",
              "nimble", "proud", "rapid", "sunny", "tidy", "vivid")
_DATE_SUFFIX = re.compile(r"_\d{8}$")
ANIMALS = ("newt", "otter", "lynx", "heron", "panda", "koala", "gecko", "bison", "crane", "moose", "ibis",
           "finch", "yak", "wombat", "marten", "puffin")


def generate_key_name() -> str:
    pick = secrets.choice
    return f"token_{pick(ADVERBS)}_{pick(ADVERBS)}_{pick(ADJECTIVES)}_{pick(ANIMALS)}"


def suggest_name(old: str, today: datetime) -> str:
    """`ci_loader` -> `ci_loader_20261127`; an old date suffix is replaced, not stacked."""
    base = _DATE_SUFFIX.sub("", old)
    suffix = today.strftime("_%Y%m%d")
    return base[: NAME_MAX_LENGTH - len(suffix)] + suffix

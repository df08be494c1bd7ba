"""Finding DataOS keys pasted into messages: pure, in memory, no call for ordinary text.

A DataOS key is standard base64 of `<token-name>.<uuid4>`. A message is scanned for base64 runs long
enough to hold one; each run is decoded and kept only if it is exactly a valid key name, a dot and a
UUID version 4. Only those candidates (at most `MAX_CANDIDATES` per message) are worth asking DataOS
about. The shape check is the flood guard: most messages have no run of 52 base64 characters at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

#: base64 of a one-character name, a dot and a 36-character UUID is 52 characters with its padding
#: (50 without); names are at most 255 characters.
_RUN = re.compile(r"[A-Za-z0-9+/]{50,400}={0,2}")
#: Base64 characters become "a", everything else a space: a run of 52 "a"s is then a C-speed `find`.
_SHAPE = bytes(97 if chr(c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=" else 32
               for c in range(256))
_LONG_RUN = b"a" * 52
_KEY = re.compile(r"[A-Za-z0-9_]{1,255}\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
MAX_CANDIDATES = 10


def candidates(text: str, limit: int = MAX_CANDIDATES) -> list[str]:
    """The distinct substrings of `text` shaped like a DataOS key, in order, at most `limit`."""
    found: list[str] = []
    # The flood guard: almost every message has no 52-character base64 run, and this says so in a few
    # microseconds for 4,000 characters (a regex scan of the text takes ten times as long).
    if len(text) < 52 or text.encode("utf-8", "surrogatepass").translate(_SHAPE).find(_LONG_RUN) < 0:
        return found
    for match in _RUN.finditer(text):
        run = match.group()
        if len(run) % 4:
            continue  # standard base64 comes in groups of four
        try:
            decoded = base64.b64decode(run, validate=True)
        except (binascii.Error, ValueError):
            continue
        if not decoded.isascii() or not _KEY.fullmatch(decoded.decode("ascii")):
            continue
        if run not in found:
            found.append(run)
            if len(found) >= limit:
                break
    return found


def key_name_of(candidate: str) -> str:
    """The key name inside a candidate (the part before the dot); no secret, safe to show."""
    return base64.b64decode(candidate).decode("ascii").split(".", 1)[0]


def fingerprint(candidate: str, secret: bytes) -> str:
    """A keyed hash: recognises the same key pasted twice without keeping it (nor a plain hash that
    anyone holding a key could look up)."""
    return hmac.new(secret, candidate.encode("ascii"), hashlib.sha256).hexdigest()

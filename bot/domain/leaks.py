"""Finding DataOS keys pasted into messages: pure, in memory, no call for ordinary text.

A DataOS key is standard base64 of `<token-name>.<uuid4>`. A message is scanned for base64 runs long
enough to hold one; a run is decoded from its start and from just after each `/` in it (a key is often
the last segment of a URL path), and a key is kept when the decoded text starts with exactly a valid
key name, a dot and a UUID version 4, and the message holds that key's base64 (its `=` padding may be
missing or URL-encoded as `%3D`). Only those candidates (at most `MAX_CANDIDATES` per message) are
worth asking DataOS about; each is given in DataOS's own form (standard base64 with its padding). The
shape check is the flood guard: most messages have no run of 51 base64 characters at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

#: base64 of a one-character name, a dot and a 36-character UUID is 52 characters with its padding
#: (51 without); names are at most 255 characters, so a key is at most 392 characters.
_MIN, _MAX = 51, 392
_RUN = re.compile(r"[A-Za-z0-9+/]{51,}={0,2}")
#: Base64 characters become "a", everything else a space: a run of 51 "a"s is then a C-speed `find`.
_SHAPE = bytes(97 if chr(c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=" else 32
               for c in range(256))
_LONG_RUN = b"a" * _MIN
#: A URL carries `=`, `+` and `/` percent-encoded; decoded before the scan (nothing else is).
_PERCENT = re.compile(r"%(?:2[BbFf]|3[Dd])")
_PERCENT_CHARS = {"%2B": "+", "%2F": "/", "%3D": "="}
#: The first character of the base64 of a name character (A-Z, a-z, 0-9, _): bytes 0x30-0x7A.
_NAME_START = frozenset("MNOPQRSTUVWXYZabcde")
_KEY = re.compile(rb"[A-Za-z0-9_]{1,255}\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
MAX_CANDIDATES = 10
#: Places decoded per message at most: text made of `a/a/a/…` cannot make the scan slow.
MAX_ATTEMPTS = 200


def _url_decoded(text: str) -> str:
    if "%" not in text:
        return text
    return _PERCENT.sub(lambda m: _PERCENT_CHARS[m.group().upper()], text)


def _key_at(run: str, start: int) -> str | None:
    """The key whose base64 begins at `run[start]`, in DataOS's form, or None."""
    body = run[start:start + _MAX].rstrip("=")
    whole = len(body) - len(body) % 4
    rest = body[whole:]
    try:
        decoded = base64.b64decode(body[:whole], validate=True)
        if len(rest) >= 2:  # a last group without its padding
            decoded += base64.b64decode(rest + "=" * (4 - len(rest)), validate=True)
    except (binascii.Error, ValueError):
        return None
    match = _KEY.match(decoded)
    if match is None:
        return None
    key = base64.b64encode(match.group()).decode("ascii")
    # The message must hold this key, not merely text that decodes to it with other bits after it.
    return key if body.startswith(key.rstrip("=")) else None


def candidates(text: str, limit: int = MAX_CANDIDATES) -> list[str]:
    """The distinct DataOS keys in `text` (in DataOS's form), in order, at most `limit`."""
    found: list[str] = []
    text = _url_decoded(text)
    # The flood guard: almost every message has no 51-character base64 run, and this says so in a few
    # microseconds for 4,000 characters (a regex scan of the text takes ten times as long).
    if len(text) < _MIN or text.encode("utf-8", "surrogatepass").translate(_SHAPE).find(_LONG_RUN) < 0:
        return found
    attempts = 0
    for match in _RUN.finditer(text):
        run = match.group()
        starts = [0] + [i + 1 for i, c in enumerate(run) if c == "/"] if "/" in run else [0]
        for start in starts:
            if len(run) - start < _MIN or run[start] not in _NAME_START:
                continue
            attempts += 1
            if attempts > MAX_ATTEMPTS:
                return found
            key = _key_at(run, start)
            if key is not None and key not in found:
                found.append(key)
                if len(found) >= limit:
                    return found
    return found


def key_name_of(candidate: str) -> str:
    """The key name inside a candidate (the part before the dot); no secret, safe to show."""
    return base64.b64decode(candidate).decode("ascii").split(".", 1)[0]


def fingerprint(candidate: str, secret: bytes) -> str:
    """A keyed hash: recognises the same key pasted twice without keeping it (nor a plain hash that
    anyone holding a key could look up)."""
    return hmac.new(secret, candidate.encode("ascii"), hashlib.sha256).hexdigest()

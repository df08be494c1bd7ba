"""The leak watch's shape check: every real key shape is found, ordinary text never is."""

from __future__ import annotations

import base64
import uuid

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.leaks import MAX_CANDIDATES, candidates, fingerprint, key_name_of
from bot.playground.heimdall_model import make_key_value


def test_keys_are_found_wherever_they_are_pasted() -> None:
    keys = [make_key_value(name) for name in ("x", "ci_loader", "n" * 255)]
    for key in keys:
        for text in (key, f"`{key}`", f"```\n{key}\n```", f"key={key}.", f"<{key}>", f"«{key}»"):
            assert candidates(text) == [key], text
    assert [key_name_of(k) for k in keys] == ["x", "ci_loader", "n" * 255]


def test_ordinary_text_and_look_alikes_are_not_candidates() -> None:
    assert candidates("") == [] and candidates("hello " * 1000) == []
    assert candidates(base64.b64encode(b"x" * 80).decode()) == []
    assert candidates(base64.b64encode(f"bad name.{uuid.uuid4()}".encode()).decode()) == []
    assert candidates(base64.b64encode(f"name.{uuid.uuid1()}".encode()).decode()) == []  # not version 4
    assert candidates(make_key_value("ci_loader")[:-4]) == []  # cut short


def test_at_most_ten_distinct_candidates_per_message() -> None:
    keys = [make_key_value(f"k{i}") for i in range(30)]
    assert candidates(" ".join(keys + keys)) == keys[:MAX_CANDIDATES]


def test_fingerprints_are_keyed() -> None:
    key = make_key_value("ci_loader")
    assert fingerprint(key, b"a") == fingerprint(key, b"a") != fingerprint(key, b"b")
    assert key not in fingerprint(key, b"a")


@given(st.text(max_size=2000))
def test_no_text_without_a_key_in_it_is_a_candidate_of_something_else(text: str) -> None:
    plain = text.replace("%3D", "=").replace("%3d", "=").replace("%2B", "+").replace("%2b", "+")
    plain = plain.replace("%2F", "/").replace("%2f", "/")
    for found in candidates(text):  # the key as DataOS writes it; the message may lack its padding
        assert found.rstrip("=") in plain and key_name_of(found)


def test_keys_in_urls_and_with_url_encoded_padding_are_found() -> None:
    for name in ("x", "ci_loader", "ab", "n" * 200):  # every padding: none, one and two "="
        key = make_key_value(name)
        encoded = key.replace("=", "%3D").replace("+", "%2B").replace("/", "%2F")
        for text in (f"https://dataos.example/api/v1/keys/{key}", f"https://x.example/a/{key}/details",
                     f"curl 'https://x.example/keys?apikey={encoded}&x=1'", f"see /{key.rstrip('=')}",
                     f"https://x.example/{encoded.replace('%3D', '%3d')}"):
            assert candidates(text) == [key], (name, text)


def test_slash_heavy_text_stays_cheap_and_finds_nothing() -> None:
    assert candidates("a/" * 20_000) == [] and candidates("/" * 20_000) == []

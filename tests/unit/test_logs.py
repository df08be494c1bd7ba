from __future__ import annotations

import io
import json
import logging

from bot.logs import configure_logging, redact
from bot.playground.heimdall_model import make_key_value

KEY = make_key_value("ci_loader")


def test_redact_dataos_key_and_slack_tokens() -> None:
    text = f"created {KEY} for bot xoxb-123-456-abcdef and app xapp-1-A0-xyz123"
    out = redact(text)
    assert KEY not in out and "xoxb-123" not in out and "xapp-1-A0" not in out
    assert "[REDACTED-DATAOS-KEY]" in out and "[REDACTED-SLACK-TOKEN]" in out


def test_redact_urlsafe_and_unpadded_key() -> None:
    urlsafe = KEY.replace("+", "-").replace("/", "_").rstrip("=")
    assert "[REDACTED-DATAOS-KEY]" in redact(f"k={urlsafe}")


def test_redact_leaves_ordinary_text() -> None:
    text = "view V0AAA hash 1700000000.abcd correlation 2b1f0b7e-8a5c-4b55-9e39-3c2d1a0f9e11 sha " + "a" * 64
    assert redact(text) == text


def test_logging_redacts_args_extras_and_tracebacks() -> None:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream=stream)
    log = logging.getLogger("test.redaction")
    log.debug("value %s", KEY)
    log.info("extra", extra={"payload": {"token": KEY}})
    try:
        raise RuntimeError(f"failed with {KEY}")
    except RuntimeError:
        log.exception("boom")
    output = stream.getvalue()
    assert KEY not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["msg"] == "value [REDACTED-DATAOS-KEY]"
    assert "RuntimeError" in lines[2]["exc"]
    configure_logging("console", "INFO", stream=io.StringIO())


def test_console_format_redacts() -> None:
    stream = io.StringIO()
    configure_logging("console", "INFO", stream=stream)
    logging.getLogger("x").warning("token %s", "xoxb-999-888-secret")
    assert "xoxb-999" not in stream.getvalue()
    assert "WARNING" in stream.getvalue()


def test_uvicorn_lines_are_not_repeated_in_colour() -> None:
    for fmt in ("console", "json"):
        stream = io.StringIO()
        configure_logging(fmt, "INFO", stream=stream)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42,
                                                 extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"})
        line = stream.getvalue()
        assert "Started server process [42]" in line and "color_message" not in line and "\x1b" not in line
        assert line.count("Started server process") == 1
    configure_logging("console", "INFO", stream=io.StringIO())


def test_redact_a_key_glued_after_a_slash_an_underscore_or_a_dash() -> None:
    urlsafe = KEY.replace("+", "-").replace("/", "_")
    for text in (f"GET https://dataos.example/api/keys/{KEY} 404", f"token_{KEY}", f"x-{KEY}",
                 f"apikey-{urlsafe.rstrip('=')}", f"/v1/{KEY}/details", f"a/{KEY}_{KEY}"):
        out = redact(text)
        assert KEY not in out and urlsafe not in out and urlsafe.rstrip("=") not in out, out
        assert "[REDACTED-DATAOS-KEY]" in out
    assert redact(f"/v1/{KEY}/details").endswith("/details")


def test_redact_leaves_long_paths_and_identifiers_alone() -> None:
    text = ("/work/wt/x/.venv/lib/python3.11/site-packages/slack_sdk/web/async_base_client.py "
            "some_very_long_identifier_with_many_parts-and-dashes-1234567890abcdef")
    assert redact(text) == text


def test_a_logged_url_with_a_key_in_its_path_is_masked_in_the_output() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("test.redaction").warning("GET https://dataos.example/api/v1/keys/%s failed", KEY)
    logging.getLogger("test.redaction").warning("header x-apikey-%s", KEY)
    configure_logging("console", "INFO", stream=io.StringIO())
    assert KEY not in stream.getvalue() and stream.getvalue().count("[REDACTED-DATAOS-KEY]") == 2

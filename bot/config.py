"""Settings, read once at start-up from the environment or a `.env` file.

A missing or malformed setting must stop the program with one line that names the variable and says
what it expects: `load_settings` turns pydantic's validation errors into exactly that.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.durations import parse_duration_hours
from bot.domain.reminders import parse_working_days, parse_working_hours
from bot.domain.rotation import RotationRefused, parse_allowed_paths, parse_target

#: A Slack select holds 100 options; the create form adds "Custom…".
MAX_PRESETS = 99
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

#: What each variable expects, in words: used in start-up errors and kept in step with the README.
EXPECTS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "a Slack bot token starting with xoxb-",
    "SLACK_SIGNING_SECRET": "the Slack app's signing secret (Basic Information page)",
    "SLACK_APP_TOKEN": "a Slack app-level token starting with xapp- (Socket Mode only)",
    "SLACK_API_URL": "the Slack Web API base URL, e.g. https://slack.com/api/",
    "HEIMDALL_URL": "the Heimdall base URL, e.g. https://dataos.example.com/heimdall",
    "DATAOS_APIKEY": "the bot's DataOS operator API key (or set DATAOS_RUN_AS_APIKEY)",
    "DATABASE_URL": "a SQLAlchemy async URL (sqlite+aiosqlite:///… or postgresql+asyncpg://…)",
    "PORT": "a TCP port number between 1 and 65535",
    "ADMIN_SLACK_USER_IDS": "comma-separated Slack user ids such as U0123ABC,U0456DEF",
    "LOG_FORMAT": "console or json",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "VALIDITY_PRESETS": "comma-separated durations such as 1d,7d,30d,90d (h, d or w units)",
    "DEFAULT_VALIDITY": "a duration such as 30d, at most MAX_VALIDITY",
    "MAX_VALIDITY": "a duration such as 365d",
    "DATAOS_TIMEOUT_SECONDS": "a number of seconds greater than 0",
    "DIRECTORY_TTL_SECONDS": "a number of seconds greater than 0",
    "SLACK_PROFILE_TTL_SECONDS": "a number of seconds greater than 0",
    "REMINDER_LADDER": "comma-separated durations before expiry, such as 30d,7d,1d",
    "WORKING_HOURS": "a local time range such as 09:00-18:00",
    "WORKING_DAYS": "days such as mon-fri or mon,tue,thu",
    "SWEEP_INTERVAL_MINUTES": "a whole number of minutes, at least 1",
    "SWEEP_CONCURRENCY": "a whole number of DataOS calls in flight, 1 to 200",
    "SNOOZE": "a duration such as 1d",
    "RENEW_GRACE": "a duration such as 24h (how long a renewed key's predecessor may live on)",
    "REMINDER_AUDIENCE": "all or active",
    "REMINDERS_ENABLED": "true or false",
    "AUDIT_CHANNEL": "a Slack channel id such as C0123ABCD (the bot must be a member), or empty",
    "HOME_TAB": "true or false",
    "DISCOVERY_INTERVAL": "a duration such as 6h (how often every audience member's keys are listed)",
    "DISCOVERY_LISTINGS_PER_DAY": "a whole number, 0 for no limit (people whose keys discoveries list in a day)",
    "LEAK_WATCH": "true or false (watch channels the bot is in for pasted DataOS keys; needs the leak-watch manifest)",
    "LEAK_WATCH_CHECKS_PER_MINUTE": "a whole number of /authorize checks of pasted keys per minute, at least 1",
    "LEAK_WATCH_QUEUE": "a whole number of pasted-key candidates that may wait for a check, 0 to 100000",
    "DATAOS_USERS_LIMIT": "a whole number of DataOS users asked for in one directory listing, at least 1",
    "DATAOS_MAX_RESPONSE_MB": "a whole number of megabytes, 1 to 4096 (the largest DataOS answer the bot reads)",
    "ALLOW_GUESTS": "true or false (whether Slack guest accounts may be mapped and link)",
    "POLICY_FILE": "the path of a key policy file (TOML; check it with `apikey-bot policy check FILE`), or empty",
    "APPROVAL_CHANNEL": "a Slack channel id such as C0123ABCD for approval requests (the bot must be a member), "
                        "or empty to DM each approver",
    "NOTICE_NEW_KEYS": "true or false (DM a key's owner when a key appears that the bot did not make)",
    "NOTICE_ESCALATE_AFTER": "a duration such as 24h (an unanswered new-key notice is then told to the audit "
                             "channel)",
    "DIGEST_CHANNEL": "a Slack channel id such as C0123ABCD for the weekly digest, or empty for AUDIT_CHANNEL",
    "VAULT_ADDR": "the Vault or OpenBao address, e.g. https://vault.example.com:8200",
    "VAULT_TOKEN": "a Vault token (or use AppRole: VAULT_ROLE_ID and VAULT_SECRET_ID, or VAULT_K8S_ROLE)",
    "VAULT_ROLE_ID": "an AppRole role id (with VAULT_SECRET_ID)",
    "VAULT_SECRET_ID": "an AppRole secret id (with VAULT_ROLE_ID)",
    "VAULT_K8S_ROLE": "the Vault Kubernetes auth role the bot's service account logs in with",
    "VAULT_NAMESPACE": "a Vault Enterprise namespace such as admin/team-a, or empty",
    "VAULT_CACERT": "the path of a PEM file with the CA that signed Vault's certificate, or empty",
    "VAULT_ALLOWED_PATHS": "comma-separated KV paths the bot may rotate keys into, such as secret/pipelines/",
    "DATAOS_APIKEY_FROM": "vault:<mount>/<path>#<field>, where the bot reads (and rotates) its own operator key",
    "DATAOS_APIKEY_REFRESH_MINUTES": "a whole number of minutes, 1 to 1440 (how often each replica re-reads its key)",
}


#: The values `.env.example` ships that are examples to replace, not defaults: they pass validation (an
#: example has the right shape), so `apikey-bot doctor` names each one still in place. A test keeps this
#: in step with `.env.example`.
EXAMPLE_VALUES: dict[str, str] = {
    "SLACK_BOT_TOKEN": "xoxb-your-bot-token",
    "SLACK_SIGNING_SECRET": "your-signing-secret",
    "SLACK_APP_TOKEN": "xapp-...",
    "HEIMDALL_URL": "https://your-dataos-fqdn/heimdall",
    "DATAOS_APIKEY": "the-bot-operator-key",
    "ADMIN_SLACK_USER_IDS": "U0123ABC,U0456DEF",
    "AUDIT_CHANNEL": "C0123ABC",
    "VAULT_ADDR": "https://vault.example.com:8200",
}


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    heimdall_url: str
    # Required unless DATAOS_APIKEY_FROM names where the bot reads it (checked in `_operator_key`).
    dataos_apikey: SecretStr | None = Field(default=None,
                                            validation_alias=AliasChoices("DATAOS_APIKEY", "DATAOS_RUN_AS_APIKEY"))
    database_url: str = "sqlite+aiosqlite:///./data/apikey-bot.db"
    port: int = Field(default=3000, ge=1, le=65535)
    admin_slack_user_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    validity_presets: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["1d", "7d", "30d", "90d"]
    )
    default_validity: str = "30d"
    max_validity: str = "365d"
    dataos_timeout_seconds: float = Field(default=10.0, gt=0)
    directory_ttl_seconds: float = Field(default=600.0, gt=0)
    slack_profile_ttl_seconds: float = Field(default=900.0, gt=0)
    reminder_ladder: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["30d", "7d", "1d"])
    working_hours: str = "09:00-18:00"
    working_days: str = "mon-fri"
    sweep_interval_minutes: int = Field(default=30, ge=1)
    sweep_concurrency: int = Field(default=20, ge=1, le=200)
    snooze: str = "1d"
    renew_grace: str = "24h"
    reminder_audience: Literal["all", "active"] = "all"
    reminders_enabled: bool = True
    audit_channel: str | None = None
    home_tab: bool = True
    discovery_interval: str = "6h"
    #: At most this many people's keys are listed by discoveries in a day (a share of it per discovery, those
    #: listed longest ago first), so a large organisation's listings spread over the day; 0: everyone, each time.
    discovery_listings_per_day: int = Field(default=100_000, ge=0)
    dataos_users_limit: int = Field(default=150_000, ge=1)  # an Enterprise Grid organisation of 100,000 fits
    leak_watch: bool = False
    leak_watch_checks_per_minute: int = Field(default=60, ge=1, le=10_000)
    leak_watch_queue: int = Field(default=500, ge=0, le=100_000)
    dataos_max_response_mb: int = Field(default=64, ge=1, le=4096)
    allow_guests: bool = False
    policy_file: str | None = None
    approval_channel: str | None = None
    notice_new_keys: bool = True
    notice_escalate_after: str = "24h"
    digest_channel: str | None = None
    vault_addr: str | None = None
    vault_token: SecretStr | None = None
    vault_role_id: str | None = None
    vault_secret_id: SecretStr | None = None
    vault_k8s_role: str | None = None
    vault_namespace: str | None = None
    vault_cacert: str | None = None
    vault_allowed_paths: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dataos_apikey_from: str | None = None
    dataos_apikey_refresh_minutes: int = Field(default=5, ge=1, le=1440)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must start with xoxb-")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must start with xapp-")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _slack_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http(s) URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("policy_file", mode="before")
    @classmethod
    def _policy_file(cls, v: object) -> object:
        return None if v in ("", None) else v

    @field_validator("audit_channel", "approval_channel", "digest_channel", mode="before")
    @classmethod
    def _channel(cls, v: object) -> object:
        if v in ("", None):
            return None
        if not isinstance(v, str) or not re.match(r"^[CG][A-Z0-9]{2,}$", v):
            raise ValueError("must be a Slack channel id such as C0123ABCD")
        return v

    @field_validator("heimdall_url")
    @classmethod
    def _heimdall(cls, v: str) -> str:
        return normalise_heimdall_url(v)

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v

    @field_validator("admin_slack_user_ids", mode="before")
    @classmethod
    def _admins(cls, v: object) -> object:
        ids = _csv(v)
        if isinstance(ids, list):
            bad = [i for i in ids if not _SLACK_ID.match(str(i))]
            if bad:
                raise ValueError(f"not Slack user ids: {', '.join(map(str, bad))}")
        return ids

    @field_validator("validity_presets", mode="before")
    @classmethod
    def _presets(cls, v: object) -> object:
        items = _csv(v)
        if isinstance(items, list):
            if not items:
                raise ValueError("at least one preset is needed")
            if len(items) > MAX_PRESETS:
                # the form's select holds 100 options, one of which is "Custom…"
                raise ValueError(f"at most {MAX_PRESETS} presets fit in the create form")
            for item in items:
                parse_duration_hours(str(item))
        return items

    @field_validator("reminder_ladder", mode="before")
    @classmethod
    def _ladder(cls, v: object) -> object:
        items = _csv(v)
        if isinstance(items, list):
            for item in items:
                parse_duration_hours(str(item))
        return items

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        parse_working_hours(v)
        return v

    @field_validator("working_days")
    @classmethod
    def _days(cls, v: str) -> str:
        parse_working_days(v)
        return v

    @field_validator("default_validity", "max_validity", "snooze", "renew_grace", "discovery_interval",
                     "notice_escalate_after")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration_hours(v)
        return v

    @field_validator("vault_addr", "vault_role_id", "vault_k8s_role", "vault_namespace", "vault_cacert",
                     "dataos_apikey_from", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("vault_token", "vault_secret_id", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("vault_addr")
    @classmethod
    def _vault_addr(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http(s) URL")
        return v.rstrip("/") if v else v

    @field_validator("vault_allowed_paths", mode="before")
    @classmethod
    def _allowed(cls, v: object) -> object:
        items = _csv(v)
        if isinstance(items, list):
            return list(parse_allowed_paths(items))
        return items

    @field_validator("dataos_apikey_from")
    @classmethod
    def _apikey_from(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_target(v)
            except RotationRefused as exc:
                raise ValueError(str(exc).replace("`", "")) from None
        return v

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _policy(self) -> Settings:
        if self.default_validity_hours > self.max_validity_hours:
            raise ValueError("DEFAULT_VALIDITY is longer than MAX_VALIDITY")
        return self

    @model_validator(mode="after")
    def _operator_key(self) -> Settings:
        if self.dataos_apikey is None and self.dataos_apikey_from is None:
            raise ValueError(f"DATAOS_APIKEY is missing; expected {EXPECTS['DATAOS_APIKEY']}, or DATAOS_APIKEY_FROM")
        if self.dataos_apikey_from is not None and self.vault_addr is None:
            raise ValueError("DATAOS_APIKEY_FROM needs VAULT_ADDR (and a way to log in to Vault)")
        return self

    @model_validator(mode="after")
    def _vault_auth(self) -> Settings:
        given = [name for name, value in (("VAULT_TOKEN", self.vault_token), ("VAULT_ROLE_ID", self.vault_role_id),
                                          ("VAULT_SECRET_ID", self.vault_secret_id),
                                          ("VAULT_K8S_ROLE", self.vault_k8s_role)) if value is not None]
        if self.vault_addr is None:
            if given:
                raise ValueError(f"{given[0]} is set but VAULT_ADDR is not; expected {EXPECTS['VAULT_ADDR']}")
            return self
        if (self.vault_role_id is None) != (self.vault_secret_id is None):
            raise ValueError("VAULT_ROLE_ID and VAULT_SECRET_ID go together (AppRole); one of them is missing")
        methods = sum((self.vault_token is not None, self.vault_role_id is not None, self.vault_k8s_role is not None))
        if methods == 0:
            raise ValueError("VAULT_ADDR is set but the bot has no way to log in to Vault; expected VAULT_TOKEN, or "
                             "VAULT_ROLE_ID and VAULT_SECRET_ID (AppRole), or VAULT_K8S_ROLE (Kubernetes)")
        if methods > 1:
            raise ValueError("set one Vault login only: VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID, or "
                             "VAULT_K8S_ROLE")
        return self

    @property
    def default_validity_hours(self) -> int:
        return parse_duration_hours(self.default_validity)

    @property
    def max_validity_hours(self) -> int:
        return parse_duration_hours(self.max_validity)

    @property
    def ladder_hours(self) -> list[int]:
        return sorted({parse_duration_hours(s) for s in self.reminder_ladder}, reverse=True)

    @property
    def all_preset_hours(self) -> list[int]:
        """Every preset, whatever MAX_VALIDITY says (a key policy caps them per rule)."""
        return sorted({parse_duration_hours(p) for p in self.validity_presets})

    @property
    def preset_hours(self) -> list[int]:
        """Presets allowed by policy, shortest first (longer than the maximum are dropped)."""
        hours = {parse_duration_hours(p) for p in self.validity_presets}
        return sorted(h for h in hours if h <= self.max_validity_hours)


def normalise_heimdall_url(url: str) -> str:
    """Accept the base with or without a trailing `/api/v1` (and slashes); return it without."""
    url = url.strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError("must be an http(s) URL")
    url = url.rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    return url.rstrip("/")


class ConfigError(Exception):
    """Start-up configuration problem; its message is one line fit for an operator."""


def _variable_name(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "configuration"
    return str(loc[0]).upper()


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise ConfigError naming the first bad variable and what it expects."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        name = _variable_name(err["loc"])
        if name == "configuration":
            raise ConfigError(f"configuration error: {err['msg'].removeprefix('Value error, ')}") from None
        if name == "DATAOS_APIKEY" or name == "DATAOS_RUN_AS_APIKEY":
            name = "DATAOS_APIKEY"
        expects = EXPECTS.get(name, "a valid value")
        what = "is missing" if err["type"] == "missing" else "is invalid"
        detail = "" if err["type"] == "missing" else f" ({err['msg'].removeprefix('Value error, ')})"
        raise ConfigError(f"configuration error: {name} {what}{detail}; expected {expects}") from None

"""Wire models for Heimdall. Tolerant on input (unknown fields ignored), strict where we depend on it.

A key's value is held as `SecretStr` from the moment it is parsed, so a stray `repr`, log line or
exception never shows it; only delivery code calls `get_secret_value()`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class _Wire(BaseModel):
    # Each validator is built on its first use, not at import: start-up needs only `User` (the directory).
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)
    #: Fields whose `null` must not take the default, and what it means instead.
    _null_means: ClassVar[dict[str, Any]] = {}

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        # Go encodes an empty (nil) list or map, and an unset pointer, as `null`: such a field means
        # "nothing", so it takes its default instead of failing the whole record.
        if isinstance(data, dict):
            return {k: cls._null_means.get(k) if v is None else v for k, v in data.items()
                    if v is not None or k in cls._null_means}
        return data


class User(_Wire):
    # A user whose type is explicitly null is not taken for a person (never matched or linked).
    _null_means: ClassVar[dict[str, Any]] = {"type": "unknown"}

    id: str
    name: str | None = None
    email: str | None = None
    type: str = "person"
    tags: list[str] = Field(default_factory=list)

    @property
    def is_person(self) -> bool:
        return self.type == "person"

    @property
    def is_operator(self) -> bool:
        return "roles:id:operator" in self.tags


class TokenData(_Wire):
    apikey: SecretStr | None = None


class Token(_Wire):
    name: str
    type: str = "apikey"
    expiration: datetime
    data: TokenData = Field(default_factory=TokenData)
    user_id: str | None = None
    description: str | None = None

    @field_validator("expiration")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        # RFC 3339 with any offset; a naive value is taken as UTC.
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @property
    def secret(self) -> SecretStr | None:
        return self.data.apikey


class AuthorizeResultInner(_Wire):
    id: str | None = None
    tags: list[str] = Field(default_factory=list)


class AuthorizeResult(_Wire):
    allow: bool = False
    valid: bool = False
    result: AuthorizeResultInner | None = None

    @property
    def user_id(self) -> str | None:
        if self.allow and self.valid and self.result is not None:
            return self.result.id
        return None


class CreateTokenRequest(_Wire):
    type: str = "apikey"
    name: str | None = None
    duration: str | None = None
    description: str | None = None
    use_existing: bool = False

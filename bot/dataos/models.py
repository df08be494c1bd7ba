"""Wire models for Heimdall. Tolerant on input (unknown fields ignored), strict where we depend on it.

A key's value is held as `SecretStr` from the moment it is parsed, so a stray `repr`, log line or
exception never shows it; only delivery code calls `get_secret_value()`.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass


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


@pydantic_dataclass(frozen=True, slots=True, config=ConfigDict(extra="ignore"))
class User:
    """A DataOS user. A slotted dataclass, not a model: the directory holds every user of the organisation
    (100,000 of them in an Enterprise Grid organisation), and a model's per-instance dicts would triple that."""

    id: str
    name: str | None = None
    email: str | None = None
    type: str = "person"
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        # As `_Wire`: a `null` field takes its default, but a user whose type is explicitly null is not
        # taken for a person (never matched or linked).
        if isinstance(data, dict):
            return {k: "unknown" if v is None else v for k, v in data.items()
                    if k in _USER_FIELDS and (v is not None or k == "type")}
        return data

    @field_validator("type", "tags")
    @classmethod
    def _shared(cls, value: Any) -> Any:
        # The same few words on every user ("person", "roles:id:user"): one string each, not 100,000.
        if isinstance(value, str):
            return sys.intern(value)
        return [sys.intern(v) if v.startswith("roles:") else v for v in value]

    @classmethod
    def model_validate(cls, data: Any) -> User:
        """As a model's: one record from DataOS's JSON."""
        return _USER.validate_python(data)

    @property
    def is_person(self) -> bool:
        return self.type == "person"

    @property
    def is_operator(self) -> bool:
        return "roles:id:operator" in self.tags


_USER_FIELDS = frozenset({"id", "name", "email", "type", "tags"})
_USER: TypeAdapter[User] = TypeAdapter(User)


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

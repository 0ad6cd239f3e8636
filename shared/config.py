"""The newsroom config file (TOML): partners, outlets, editors.

Unknown keys are refused with the key's name and line so a typo never silently
disables a partner or an outlet. Secrets are stored hashed (API keys, editor
tokens) or as Standard Webhooks `whsec_` signing secrets for outlets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ConfigError(ValueError):
    pass


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Partner(_Strict):
    id: str
    name: str = ""
    keys_sha256: list[str] = Field(default_factory=list)
    webhook_secrets: list[str] = Field(
        default_factory=list, description="whsec_ secrets for partners that sign requests."
    )
    rate_per_second: float | None = None
    rate_burst: int | None = None
    timezone: str = Field(
        "UTC", description="IANA zone in which times sent without a UTC offset are read (with a warning)."
    )
    strict: bool = Field(
        False, description="Refuse items that fail IPTC's schemas (default: accept them with warnings)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"{value!r} is not an IANA timezone name (e.g. 'Pacific/Auckland')") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("partner id must be lowercase letters, digits, '-' or '_'")
        return value

    @field_validator("keys_sha256")
    @classmethod
    def _digests(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _SHA256_HEX.match(value):
                raise ValueError(f"{value[:12]}… is not a lowercase hex SHA-256 digest")
        return values

    def accepts_key(self, key: str) -> bool:
        digest = sha256_hex(key)
        return any(hmac.compare_digest(digest, known) for known in self.keys_sha256)


class OutletFilters(_Strict):
    partners: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    max_urgency: int | None = Field(None, description="Only urgency <= this (1 is highest).")
    places: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list)
    pubstatus: list[str] = Field(default_factory=list)


class OutletWording(_Strict):
    age_sentence: str = "This article is more than {age} old."
    footer: str = ""
    byline_style: Literal["by", "plain", "none"] = "by"


class Outlet(_Strict):
    name: str
    transport: Literal["webhook", "directory", "atom"] = "webhook"
    url: str = ""
    secret: str = ""
    secrets: list[str] = Field(default_factory=list, description="Extra secrets during rotation.")
    path: str = Field("", description="Directory for the directory transport.")
    format: Literal["ninjs", "html", "text"] = "ninjs"
    filters: OutletFilters = Field(default_factory=OutletFilters)
    wording: OutletWording = Field(default_factory=OutletWording)
    concurrency: int | None = None
    timeout_seconds: float | None = Field(None, gt=0)
    exempt_genres: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("outlet name must be lowercase letters, digits, '-' or '_'")
        return value

    @field_validator("secret")
    @classmethod
    def _secret_shape(cls, value: str) -> str:
        if value and not value.startswith("whsec_"):
            raise ValueError("outlet secret must be a Standard Webhooks secret ('whsec_…')")
        return value

    def signing_secrets(self) -> list[str]:
        return [s for s in [self.secret, *self.secrets] if s]


class Editor(_Strict):
    id: str
    token_sha256: str

    def accepts_token(self, token: str) -> bool:
        return hmac.compare_digest(sha256_hex(token), self.token_sha256)


class NewsroomConfig(_Strict):
    partners: list[Partner] = Field(default_factory=list)
    outlets: list[Outlet] = Field(default_factory=list)
    editors: list[Editor] = Field(default_factory=list)
    exempt_genres: list[str] = Field(default_factory=lambda: ["evergreen", "recipe", "puzzle"])

    @field_validator("partners")
    @classmethod
    def _partner_ids_distinct(cls, partners: list[Partner]) -> list[Partner]:
        # Story ids are `<partner>-<digest>`: `alpha` beside `alpha-x` would make one partner's
        # ids read as if they began with the other's (and so its keys, logs and metrics).
        ids = [p.id for p in partners]
        for twice in {i for i in ids if ids.count(i) > 1}:
            raise ValueError(f"partner id {twice!r} is used twice")
        for first in ids:
            for second in ids:
                if second.startswith(first + "-"):
                    raise ValueError(
                        f"partner ids {first!r} and {second!r} could be confused "
                        f"(one is the other followed by '-'); rename one"
                    )
        return partners

    def partner_for_key(self, key: str) -> Partner | None:
        for partner in self.partners:
            if partner.accepts_key(key):
                return partner
        return None

    def partner(self, partner_id: str) -> Partner | None:
        return next((p for p in self.partners if p.id == partner_id), None)

    def outlet(self, name: str) -> Outlet | None:
        return next((o for o in self.outlets if o.name == name), None)

    def editor_for_token(self, token: str) -> Editor | None:
        return next((e for e in self.editors if e.accepts_token(token)), None)


def load_config(path: Path) -> NewsroomConfig:
    text = path.read_text(encoding="utf-8")
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "<config>") -> NewsroomConfig:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    try:
        return NewsroomConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            key = str(err["loc"][-1]) if err["loc"] else ""
            line = _line_of(text, key)
            at = f" (line {line})" if line else ""
            what = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{where}{at}: {what}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from exc


def _line_of(text: str, key: str) -> int | None:
    if not key or key.isdigit():
        return None
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None

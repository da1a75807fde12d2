"""Configuration of reports, e-mail, alerts and the HTTP API.

Read from a YAML file (``EMUSA_DELIVERY_CONFIG`` or ``--delivery-config``), then
overridden by the environment. Unknown keys are refused and every error names the file
and the key (``delivery.yaml: tariff.demand_kw: Input should be a valid number``).
Secrets (SMTP password, API token, webhook and WhatsApp tokens) come only from the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from analytics.errors import AnalyticsError
from contract.settings import Strict

CONFIG_VAR = "EMUSA_DELIVERY_CONFIG"
DEFAULT_BRANDING = "EMUSA BRASIL \u2013 Controle e Monitoramento de Energia"
_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+")
_PHONE = re.compile(r"\+?[1-9][0-9]{7,14}")  # E.164, with or without the +
_DIGITS = re.compile(r"[0-9]{1,32}")
_TEMPLATE = re.compile(r"[a-z0-9_]{1,512}")
_LANGUAGE_CODES = {"pt-BR": "pt_BR", "en": "en"}

Severity = Literal["info", "warning", "critical"]


class DeliveryConfigError(AnalyticsError):
    """The delivery configuration is missing, malformed or inconsistent; names the key."""


def _critical_only() -> list[Severity]:
    return ["critical"]


class Tariff(Strict):
    """Prices used for money estimates (R$, taxes as the user chooses). None: omitted.

    Never treated as truth: every money figure in a report is labelled an estimate.
    """

    currency: str = "R$"
    demand_kw: float | None = Field(
        default=None, ge=0, description="R$/kW-month (fora ponta or single)"
    )
    demand_ponta_kw: float | None = Field(
        default=None, ge=0, description="R$/kW-month, ponta (azul)"
    )
    energy_ponta_kwh: float | None = Field(default=None, ge=0)
    energy_fora_ponta_kwh: float | None = Field(default=None, ge=0)
    reactive_excess_kvarh: float | None = Field(
        default=None,
        ge=0,
        description="R$/kvarh of excess reactive (UFER); default: fora ponta energy price",
    )
    ultrapassagem_factor: float = Field(default=2.0, ge=1)

    @property
    def configured(self) -> bool:
        return any(
            v is not None
            for v in (self.demand_kw, self.energy_ponta_kwh, self.energy_fora_ponta_kwh)
        )


class Recipients(Strict):
    daily: list[str] = Field(default_factory=list)
    fortnightly: list[str] = Field(default_factory=list)
    alerts: list[str] = Field(default_factory=list)

    @field_validator("daily", "fortnightly", "alerts")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for a in v:
            if not _EMAIL.fullmatch(a):
                raise ValueError(f"not an e-mail address: {a!r}")
        return v


class WhatsAppRecipient(Strict):
    """One phone number, for the sites and severities it wants (empty sites: all)."""

    to: str
    name: str | None = None
    sites: list[str] = Field(default_factory=list)
    severities: list[Severity] = Field(default_factory=_critical_only)

    @field_validator("to")
    @classmethod
    def _e164(cls, v: str) -> str:
        if not _PHONE.fullmatch(v):
            raise ValueError(
                f"not an international phone number (E.164, e.g. +5511987654321): {v!r}"
            )
        return v.lstrip("+")

    def wants(self, site: str, severity: str) -> bool:
        return severity in self.severities and (not self.sites or site in self.sites)


class WhatsApp(Strict):
    """WhatsApp Business Cloud API: the business number and an approved template.

    The token is read from EMUSA_WHATSAPP_TOKEN only."""

    phone_number_id: str
    api_url: str = "https://graph.facebook.com/v21.0"
    template: str = "emusa_alerta"
    language: str | None = None  # the template's language code; default from `lang`
    recipients: list[WhatsAppRecipient] = Field(min_length=1)
    timeout_s: float = Field(default=10, gt=0)
    attempts: int = Field(default=4, ge=1, le=10)
    backoff_s: float = Field(default=2.0, ge=0)

    @field_validator("phone_number_id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _DIGITS.fullmatch(v):
            raise ValueError("the phone number ID from WhatsApp Manager: digits only")
        return v

    @field_validator("template")
    @classmethod
    def _template(cls, v: str) -> str:
        if not _TEMPLATE.fullmatch(v):
            raise ValueError("template names are lowercase letters, digits and _")
        return v

    @field_validator("api_url")
    @classmethod
    def _api(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for a local test server)")
        return v


class Alerts(Strict):
    severities: list[Severity] = Field(default_factory=_critical_only)
    cooldown_minutes: float = Field(default=60, ge=0)
    lookback_hours: float = Field(default=24, gt=0, description="older anomalies are never alerted")
    email: bool = True
    webhook_url: str | None = None
    webhook_timeout_s: float = Field(default=10, gt=0)
    max_attempts: int = Field(default=5, ge=1)

    whatsapp: WhatsApp | None = None

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v

    @model_validator(mode="after")
    def _whatsapp_severities(self) -> Alerts:
        for i, r in enumerate(self.whatsapp.recipients if self.whatsapp else ()):
            extra = sorted(set(r.severities) - set(self.severities))
            if extra:
                raise ValueError(
                    f"whatsapp.recipients.{i}.severities: {', '.join(extra)} not in"
                    f" alerts.severities {self.severities}: such anomalies are never alerted"
                )
        return self


class PowerBI(Strict):
    server: str = "localhost:5432"
    database: str = "emusa"
    mode: Literal["Import", "DirectQuery"] = "Import"


class ApiSettings(Strict):
    """The HTTP API's limits and its database sessions' guards (``api:`` in the YAML)."""

    export_max_days: int = Field(
        default=400, ge=1, le=3660, description="longest /export.csv range (1-minute rows)"
    )
    export_batch_rows: int = Field(default=5000, ge=1, le=100_000)
    connect_timeout_s: int = Field(default=10, ge=1, le=600)
    statement_timeout_s: float = Field(default=60, gt=0, le=3600)
    lock_timeout_s: float = Field(default=5, gt=0, le=3600)
    idle_in_transaction_timeout_s: float = Field(default=60, gt=0, le=3600)


class DeliveryConfig(Strict):
    site: str | None = None  # None: every site in the database
    lang: Literal["pt-BR", "en"] = "pt-BR"
    timezone: str = "America/Sao_Paulo"
    branding: str = DEFAULT_BRANDING
    reports_dir: Path = Path("reports")
    daily_send_time: time = time(7, 0)
    fortnightly_send_time: time = time(7, 0)
    catch_up_days: int = Field(default=7, ge=0, le=366)
    mail_from: str = "EMUSA Energia <emusa@localhost>"
    smtp_url: str | None = None  # from EMUSA_SMTP_URL only (it holds the password)
    smtp_attempts: int = Field(default=3, ge=1)
    smtp_retry_delay_s: float = Field(default=5.0, ge=0)
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    recipients: Recipients = Recipients()
    tariff: Tariff = Tariff()
    alerts: Alerts = Alerts()
    powerbi: PowerBI = PowerBI()
    api: ApiSettings = ApiSettings()
    api_token: str | None = None  # from EMUSA_API_TOKEN only
    webhook_token: str | None = None  # from EMUSA_WEBHOOK_TOKEN only
    whatsapp_token: str | None = None  # from EMUSA_WHATSAPP_TOKEN only

    @model_validator(mode="after")
    def _whatsapp_token(self) -> DeliveryConfig:
        if self.alerts.whatsapp is not None and not self.whatsapp_token:
            raise ValueError("alerts.whatsapp is configured but EMUSA_WHATSAPP_TOKEN is not set")
        return self

    @property
    def whatsapp_language(self) -> str:
        wa = self.alerts.whatsapp
        return wa.language if wa and wa.language else _LANGUAGE_CODES[self.lang]

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


#: environment variable -> config key (flat keys only; secrets only here, never in YAML)
ENV_KEYS: Mapping[str, str] = {
    "EMUSA_SITE": "site",
    "EMUSA_LANG": "lang",
    "EMUSA_TZ": "timezone",
    "EMUSA_REPORTS_DIR": "reports_dir",
    "EMUSA_REPORT_BRANDING": "branding",
    "EMUSA_MAIL_FROM": "mail_from",
    "EMUSA_SMTP_URL": "smtp_url",
    "EMUSA_API_TOKEN": "api_token",
    "EMUSA_WEBHOOK_URL": "alerts.webhook_url",
    "EMUSA_WEBHOOK_TOKEN": "webhook_token",
    "EMUSA_WHATSAPP_TOKEN": "whatsapp_token",
}
_SECRET_KEYS = ("smtp_url", "api_token", "webhook_token", "whatsapp_token")


def _read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DeliveryConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise DeliveryConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DeliveryConfigError(f"{path}: the top level must be a mapping")
    for key in _SECRET_KEYS:
        if key in raw:
            raise DeliveryConfigError(f"{path}: {key}: secrets are read from the environment only")
    return raw


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> DeliveryConfig:
    """The configuration from ``path`` (or ``EMUSA_DELIVERY_CONFIG``), then the environment."""
    env = os.environ if env is None else env
    path = path if path is not None else env.get(CONFIG_VAR) or None
    data = _read_yaml(path) if path is not None else {}
    source = str(path) if path is not None else "environment"
    for var, key in ENV_KEYS.items():
        value = env.get(var)
        if not value:
            continue
        head, _, tail = key.partition(".")
        if tail:
            data[head] = {**(data.get(head) or {}), tail: value}
        else:
            data[key] = value
    try:
        return DeliveryConfig.model_validate(data)
    except ValidationError as exc:
        names = {v: k for k, v in ENV_KEYS.items()}
        msgs = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(root)"
            env_var = names.get(loc)
            where = env_var if env_var is not None and env.get(env_var) else source
            msgs.append(f"{where}: {loc}: {err['msg']}")
        raise DeliveryConfigError("; ".join(msgs)) from exc

"""Configuration: pain-news.toml, then PAIN_NEWS_<SECTION>_<KEY> overrides, secrets from env/.env.

Precedence: command-line flag > PAIN_NEWS_* environment variable > pain-news.toml > default.
Secrets (API key, secret key, SMTP password) are never read from the TOML file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pain_news.config.hosts import is_loopback, split_nameserver
from pain_news.config.inbound import deprecations, validate_inbound
from pain_news.config.languages import DEFAULT_LANGUAGES, language_problem
from pain_news.config.reviewers import Reviewer, read_reviewers
from pain_news.config.topics import Topic, normalize_topics, read_topics
from pain_news.errors import ConfigError, TopicError

CONFIG_NAME = "pain-news.toml"
DEFAULT_DATABASE_URL = "sqlite:///subscribers/pain-news.db"
PROVIDERS = ("outbox", "smtp", "sendgrid")
DEFAULT_CLINIC = "TriState Pain Institute"  # when newsletter.from_name is not set (NewsletterSettings.clinic)


@dataclass(frozen=True)
class NewsletterSettings:
    name: str = "Pain News"
    from_name: str = ""
    from_email: str = ""
    reply_to: str = ""
    postal_address: str = ""
    public_url: str = ""
    conditions_url: str = ""
    list_id: str = ""
    timezone: str = ""  # IANA name (Europe/Berlin): how times are read (send --at) and shown; "" = UTC
    phone: str = ""  # the clinic's number: masthead, footer (tel: link) and the text part
    phone_region: str = "US"  # ISO country of a phone written without +country code (its tel: link)
    appointment_url: str = ""  # a spotlight's second button, "Request an appointment"
    inbound_domain: str = (
        ""  # mail to it reaches `inbound`/serve (docs/serve.md); adds List-Unsubscribe's mailto
    )
    replies_forward_to: str = ""  # the clinic's monitored inbox: every reply that is not an opt-out
    reply_answer_days: int = 7  # one automatic answer per sender per this many days
    # The languages subscribers may have and issues may have editions in; the first is the
    # default (config/languages.py, docs/configuration.md#languages).
    languages: tuple[str, ...] = DEFAULT_LANGUAGES

    @property
    def clinic(self) -> str:  # the clinic's name in the email, web pages, archive and feed: the one fallback
        return self.from_name or DEFAULT_CLINIC


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = DEFAULT_DATABASE_URL


@dataclass(frozen=True)
class BuildSettings:
    templates: str = "templates"
    issues: str = "issues"
    out: str = "build"
    archive_out: str = "archive"
    review_months: int = 12  # a spotlight's medical review older than this is flagged (docs/checks.md)
    approval_link_days: int = 14  # how long an emailed "Approve this version" link works (docs/sending.md)


@dataclass(frozen=True)
class DeliverySettings:
    provider: str = "outbox"
    outbox_dir: str = "outbox"
    test_recipients: tuple[str, ...] = ()
    unsubscribe_mailto: str = ""
    rate: float = 0.0
    processes: int = -1  # worker processes personalising a SendGrid list send; -1: by list size
    # The canary and the circuit breaker (campaign/canary.py, docs/sending.md#canary-sends).
    canary_wait_minutes: int = 120  # how long a canary's outcome is awaited before the rest may go
    max_complaint_rate: float = 0.001  # spam reports per message sent: Gmail asks to stay under 0.1%
    max_bounce_rate: float = 0.02  # bounces and blocks per message sent
    first_send_canary: int = 1000  # canary size for a first send or a large import; 0 = off


@dataclass(frozen=True)
class SendgridSettings:
    host: str = "https://api.sendgrid.com"
    asm_group_id: int = 0
    timeout: float = 30.0
    webhook_public_key: str = ""
    # Aggregate open counts only (SendGrid's open-tracking pixel); per-address events are never kept.
    count_opens: bool = False


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str = ""
    timeout: float = 30.0
    ca_file: str = ""  # PEM file of extra CA certificates to trust (a private or self-signed server)


@dataclass(frozen=True)
class ServeSettings:
    """Abuse limits of the signup form and the proxies whose forwarded client address we believe."""

    signups_per_address_per_day: int = 3  # confirmation emails one address may receive in 24 h
    signups_per_client_per_hour: int = 30  # signup submissions one client address may make in 1 h
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks of reverse proxies; X-Forwarded-For from them
    signup_topics: tuple[str, ...] = ()  # [topics] keys ticked in advance on the signup form
    inbound_max_bytes: int = 30 * 1024 * 1024  # an Inbound Parse post (SendGrid's own limit is 30 MB)
    preference_link_days: int = 30  # a preference link works this long after its email was delivered
    # Host names requests may be addressed to (Host header); () = public_url's host and loopback.
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubscribersSettings:
    """How long the list keeps what strangers may have typed into the signup form."""

    # An unconfirmed signup (and the address it holds) is deleted after this many days
    # (subscribers/signup.py: purge_unconfirmed; `serve` and the `subscribers` commands run it).
    pending_purge_days: int = 7


@dataclass(frozen=True)
class DnsSettings:
    """Where `pain-news doctor` (and the list send's doctor gate) asks DNS (docs/configuration.md)."""

    nameserver: str = ""  # "address[:port]"; "" = the system's resolver
    dkim_selectors: tuple[str, ...] = ("s1", "s2")  # SendGrid's; a relay's own selector otherwise


@dataclass(frozen=True)
class CheckSettings:
    """Targets of `check`'s reading level, one per language's formula (docs/checks.md#reading-grades)."""

    reading_grade_max: float = 8.0  # English: Flesch–Kincaid grade, at most
    reading_ease_min_es: float = 60.0  # Spanish: Fernández Huerta reading ease, at least ("normal")

    def target(self, language: str) -> float | None:
        """The target for an edition in `language`; None when `check` has no formula for it."""
        return {"en": self.reading_grade_max, "es": self.reading_ease_min_es}.get(language)


@dataclass(frozen=True)
class SampleSettings:
    first_name: str = "Maria"
    last_name: str = "Lopez"
    email: str = "maria.lopez@example.com"


@dataclass(frozen=True)
class Secrets:
    """Values that only ever come from the environment (or an uncommitted .env)."""

    sendgrid_api_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    smtp_password: str = field(default="", repr=False)
    # Keys used before a rotation: links signed with them (in old emails) still verify.
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    inbound_secret: str = field(default="", repr=False)  # serve's /webhooks/inbound/<secret>: unguessable

    @property
    def verification_keys(self) -> tuple[str, ...]:
        """The current key first, then the previous ones: what a link may be signed with."""
        return tuple(k for k in (self.secret_key, *self.previous_secret_keys) if k)


MIN_SECRET_BYTES = 32
PREVIOUS_KEYS_VARIABLE = "PAIN_NEWS_PREVIOUS_SECRET_KEYS"
SECRET_VARIABLES = {
    "sendgrid_api_key": "SENDGRID_API_KEY",
    "secret_key": "PAIN_NEWS_SECRET_KEY",
    "smtp_password": "PAIN_NEWS_SMTP_PASSWORD",
    "previous_secret_keys": PREVIOUS_KEYS_VARIABLE,
    "inbound_secret": "PAIN_NEWS_INBOUND_SECRET",
}

SECTIONS: dict[str, type] = {
    "newsletter": NewsletterSettings,
    "database": DatabaseSettings,
    "build": BuildSettings,
    "delivery": DeliverySettings,
    "sendgrid": SendgridSettings,
    "smtp": SmtpSettings,
    "serve": ServeSettings,
    "subscribers": SubscribersSettings,
    "dns": DnsSettings,
    "sample": SampleSettings,
    "check": CheckSettings,
}


@dataclass(frozen=True)
class Config:
    """The whole configuration as one frozen value; `root` is the folder holding pain-news.toml."""

    root: Path
    path: Path | None
    newsletter: NewsletterSettings = NewsletterSettings()
    database: DatabaseSettings = DatabaseSettings()
    build: BuildSettings = BuildSettings()
    delivery: DeliverySettings = DeliverySettings()
    sendgrid: SendgridSettings = SendgridSettings()
    smtp: SmtpSettings = SmtpSettings()
    serve: ServeSettings = ServeSettings()
    subscribers: SubscribersSettings = SubscribersSettings()
    dns: DnsSettings = DnsSettings()
    sample: SampleSettings = SampleSettings()
    check: CheckSettings = CheckSettings()
    topics: tuple[Topic, ...] = ()  # in the order of [topics] in pain-news.toml
    reviewers: tuple[Reviewer, ...] = ()  # [reviewers.<key>] tables, in file order
    secrets: Secrets = field(default=Secrets(), repr=False)
    # Where each set value came from ("newsletter.from_email" → "pain-news.toml key newsletter.from_email"
    # or "environment variable PAIN_NEWS_..."), so an error can say what to change; unset keys are absent.
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # Settings still read but on their way out, each with what to set instead (the CLI shows them).
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # The folders pain-news.toml was looked for from (each walked up): the current folder, then an
    # issue folder the command names; empty when the file was named (--config, PAIN_NEWS_CONFIG).
    searched_from: tuple[Path, ...] = field(default=(), compare=False)

    def source(self, dotted: str) -> str:
        """Where `section.key` was set, in words ("the default" when nowhere)."""
        return self.sources.get(dotted, "the default")

    @property
    def languages(self) -> tuple[str, ...]:
        """`newsletter.languages`: the codes subscribers and editions may use, the default first."""
        return self.newsletter.languages

    @property
    def default_language(self) -> str:
        return self.newsletter.languages[0]

    @property
    def topic_keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.topics)

    def resolve(self, relative: str | Path) -> Path:
        """A path from the config, taken relative to the project root."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute against the project root."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve(url[len(prefix) :]))
        return url

    @property
    def templates_dir(self) -> Path:
        return self.resolve(self.build.templates)

    @property
    def welcome_dir(self) -> Path:
        """The welcome email's folder, written like an issue (pain_news/campaign/welcome.py)."""
        return self.templates_dir / "welcome"

    def with_overrides(self, **sections: Any) -> Config:
        """A copy with whole settings sections replaced (used for command-line flags)."""
        return replace(self, **sections)


def find_config(start: Path, *more: Path) -> Path | None:
    """Walk up from `start` to the first folder holding pain-news.toml; then from each of `more`."""
    for origin in (start, *more):
        for folder in [origin, *origin.parents]:
            candidate = folder / CONFIG_NAME
            if candidate.is_file():
                return candidate
    return None


def require_database(config: Config) -> None:
    """ConfigError unless a pain-news.toml was found or a database was named: the built-in
    database.url in whatever folder a command ran would start a second, empty list there."""
    if config.path is not None or "database.url" in config.sources:
        return
    looked = " and from ".join(str(folder) for folder in config.searched_from) or str(config.root)
    raise ConfigError(
        f"no {CONFIG_NAME} found (looked from {looked} up to /) and no database named: "
        "refusing to use or create a subscriber database here",
        hint=f"run it in your project's folder (or pass --config path/to/{CONFIG_NAME}); "
        "to start a project here, run 'pain-news init'; to use a database without one, set PAIN_NEWS_DATABASE_URL",
    )


def _read_dotenv(folder: Path) -> dict[str, str]:
    dotenv = folder / ".env"
    if not dotenv.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(dotenv).items() if v is not None}


_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text in quotes"}


def _coerce(value: Any, default: Any, where: str, path: Path | None) -> Any:
    """Convert a TOML or environment value to the type of the field's default."""
    kind = type(default)
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                return text.lower() in ("1", "true", "yes", "on")
            if kind is int:
                return int(text)
            if kind is float:
                return float(text)
            if kind is tuple:
                return tuple(part.strip() for part in text.split(",") if part.strip())
        except ValueError:
            raise ConfigError(f"{where} must be {_KIND_NAMES[kind]}, got {value!r}", path=path) from None
    if kind is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings", path=path)
        return tuple(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {_KIND_NAMES[kind]}, got {value!r}", path=path)
    return value


def _section(
    name: str,
    cls: type,
    table: Mapping[str, Any],
    env: Mapping[str, str],
    path: Path | None,
    sources: dict[str, str],
) -> Any:
    known = {f.name: f for f in fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(
                f"unknown key '{name}.{key}' (known: {', '.join(sorted(known))})",
                path=path,
                hint="fix the spelling or remove the key; secrets belong in the environment, not this file",
            )
    values: dict[str, Any] = {}
    for key, f in known.items():
        default = f.default
        var = f"PAIN_NEWS_{name.upper()}_{key.upper()}"
        if var in env:
            values[key] = _coerce(env[var], default, var, None)
            sources[f"{name}.{key}"] = f"environment variable {var}"
        elif key in table:
            try:
                values[key] = _coerce(table[key], default, f"{name}.{key}", path)
            except ConfigError as exc:
                exc.line = _toml_line(path, name, key)
                raise
            sources[f"{name}.{key}"] = f"{path.name if path else CONFIG_NAME} key {name}.{key}"
    return cls(**values)


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    issue_dir: Path | None = None,
) -> Config:
    """Load configuration: explicit path, else PAIN_NEWS_CONFIG, else walk up from cwd, else from
    `issue_dir` (a command run from outside the project still finds the issue's own settings)."""
    environ = dict(os.environ if env is None else env)
    start = (cwd or Path.cwd()).resolve()
    searched: tuple[Path, ...] = ()
    if path is None and environ.get("PAIN_NEWS_CONFIG"):
        path = Path(environ["PAIN_NEWS_CONFIG"])
    if path is not None:
        path = path.resolve()
        if not path.is_file():
            raise ConfigError("file not found", path=path, hint="run 'pain-news init' to create one")
    else:
        searched = (start,) if issue_dir is None else (start, issue_dir.resolve())
        path = find_config(*searched)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            line = _toml_error_line(str(exc))
            raise ConfigError(f"invalid TOML: {exc}", path=path, line=line) from None
        except UnicodeDecodeError:
            raise ConfigError("not UTF-8 text", path=path) from None
    root = path.parent if path is not None else start
    # .env fills in what the real environment does not set; the environment wins.
    merged = {**_read_dotenv(root), **environ}

    tables: dict[str, Any] = {"topics": read_topics(data.pop("topics", {}), path)}
    tables["reviewers"] = read_reviewers(data, path)
    for section in data:
        if section not in SECTIONS:
            known = ", ".join([*SECTIONS, *tables])
            raise ConfigError(f"unknown section '[{section}]' (known: {known})", path=path)
        if not isinstance(data[section], dict):
            raise ConfigError(f"'{section}' must be a table ([{section}])", path=path)
    sources: dict[str, str] = {}
    sections = {
        name: _section(name, cls, data.get(name, {}), merged, path, sources) for name, cls in SECTIONS.items()
    }
    if "PAIN_NEWS_DATABASE_URL" in merged:  # documented short form; same as the generic rule
        sections["database"] = DatabaseSettings(url=merged["PAIN_NEWS_DATABASE_URL"])
        sources["database.url"] = "environment variable PAIN_NEWS_DATABASE_URL"
    for dotted, where in sources.items():  # a variable the environment lacks was read from .env
        variable = where.removeprefix("environment variable ")
        if variable != where and variable not in environ:
            sources[dotted] = f".env variable {variable}"
    secrets = _secrets(merged)
    config = Config(root, path, secrets=secrets, sources=sources, **tables, **sections)
    _validate(config, merged)
    return replace(config, warnings=deprecations(config), searched_from=searched)


def _secrets(merged: Mapping[str, str]) -> Secrets:
    values: dict[str, Any] = {key: merged.get(var, "") for key, var in SECRET_VARIABLES.items()}
    previous = values["previous_secret_keys"].split(",")
    values["previous_secret_keys"] = tuple(key.strip() for key in previous if key.strip())
    return Secrets(**values)


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _toml_line(path: Path | None, section: str, key: str) -> int | None:
    """The line of `key = ...` under `[section]` in the config file; None when it is not there."""
    if path is None:
        return None
    current = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[] ")
        elif current == section and stripped.split("=", 1)[0].strip() == key:
            return number
    return None


def _where(config: Config, env: Mapping[str, str], dotted: str) -> dict[str, Any]:
    """Where a setting was set, for its error: its environment variable when that set it (the file
    is not to blame then), else the file and the key's line."""
    section, key = dotted.split(".")
    var = f"PAIN_NEWS_{section.upper()}_{key.upper()}"
    if var in env:
        return {"path": var}
    return {"path": config.path, "line": _toml_line(config.path, section, key)}


def _validate_canary(config: Config, env: Mapping[str, str]) -> None:
    """The canary's settings: whole minutes and sizes from 0, rates between 0 and 1."""
    d = config.delivery
    for key, value in (
        ("canary_wait_minutes", d.canary_wait_minutes),
        ("first_send_canary", d.first_send_canary),
    ):
        if value < 0:
            raise ConfigError(
                f"delivery.{key} must be 0 or more, got {value}", **_where(config, env, f"delivery.{key}")
            )
    for key, rate in (("max_complaint_rate", d.max_complaint_rate), ("max_bounce_rate", d.max_bounce_rate)):
        if not 0 < rate < 1:
            raise ConfigError(
                f"delivery.{key} is a share of messages sent, between 0 and 1 (0.001 = 0.1%), got {rate}",
                **_where(config, env, f"delivery.{key}"),
            )


def _validate(config: Config, env: Mapping[str, str]) -> None:
    if config.delivery.provider not in PROVIDERS:
        where = _where(config, env, "delivery.provider")
        raise ConfigError(
            f"delivery.provider must be one of {', '.join(PROVIDERS)}, got {config.delivery.provider!r}",
            **where,
        )
    if config.delivery.rate < 0:
        where = _where(config, env, "delivery.rate")
        raise ConfigError(f"delivery.rate must be 0 (no cap) or more, got {config.delivery.rate}", **where)
    if not -1 <= config.delivery.processes <= 64:
        where = _where(config, env, "delivery.processes")
        raise ConfigError(
            f"delivery.processes must be -1 (by list size), 0 (none) or up to 64, got {config.delivery.processes}",
            **where,
        )
    _validate_canary(config, env)
    if config.smtp.security not in ("starttls", "ssl", "none"):
        where = _where(config, env, "smtp.security")
        raise ConfigError(
            f"smtp.security must be starttls, ssl or none, got {config.smtp.security!r}", **where
        )
    if config.newsletter.timezone:
        # lazy: zoneinfo loads only when newsletter.timezone is set
        from pain_news.config.clock import zone

        zone(config.newsletter.timezone, config.path)
    if not re.fullmatch(r"[A-Za-z]{2}", config.newsletter.phone_region):
        where = _where(config, env, "newsletter.phone_region")
        raise ConfigError(
            f"newsletter.phone_region must be a two-letter country code such as US, got "
            f"{config.newsletter.phone_region!r}",
            **where,
        )
    for key in ("public_url", "conditions_url", "appointment_url"):
        value = getattr(config.newsletter, key)
        if value and not value.startswith(("https://", "http://")):
            where = _where(config, env, f"newsletter.{key}")
            raise ConfigError(f"newsletter.{key} must be an absolute http(s) URL, got {value!r}", **where)
    problem = language_problem(config.newsletter.languages)
    if problem:
        where = _where(config, env, "newsletter.languages")
        raise ConfigError(f"newsletter.languages {problem}", hint='write languages = ["en", "es"]', **where)
    _validate_secret_key(config.secrets.secret_key)
    _validate_dns(config, env)
    _validate_clear_text(config)
    _validate_serve(config, env)
    validate_inbound(config, lambda dotted: _where(config, env, dotted))
    try:
        normalize_topics(config.serve.signup_topics, config.topic_keys)
    except TopicError as exc:
        raise ConfigError(
            f"serve.signup_topics: {exc.message}", hint=exc.hint, **_where(config, env, "serve.signup_topics")
        ) from None


def _validate_secret_key(key: str) -> None:
    """A short key makes links guessable offline; empty is allowed (commands that make no links)."""
    if key and len(key.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"PAIN_NEWS_SECRET_KEY is {len(key.encode('utf-8'))} bytes; it must be at least {MIN_SECRET_BYTES}",
            hint='generate one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))" '
            f"and keep the old key in {PREVIOUS_KEYS_VARIABLE} so links already sent keep working",
        )


def _validate_dns(config: Config, env: Mapping[str, str]) -> None:
    """dns.nameserver is an IP address with an optional port; the doctor asks nothing else."""
    text = config.dns.nameserver.strip()
    try:
        if text:
            split_nameserver(text)
    except ValueError:
        raise ConfigError(
            f"dns.nameserver must be an IP address with an optional port (127.0.0.1:5353), got {text!r}",
            **_where(config, env, "dns.nameserver"),
        ) from None
    if not config.dns.dkim_selectors:
        raise ConfigError(
            'dns.dkim_selectors must name at least one selector (SendGrid: ["s1", "s2"])',
            **_where(config, env, "dns.dkim_selectors"),
        )


def _validate_clear_text(config: Config) -> None:
    """Credentials never travel unencrypted to another machine."""
    from urllib.parse import urlsplit

    smtp = config.smtp
    if smtp.security == "none" and smtp.username and not is_loopback(smtp.host):
        raise ConfigError(
            f'smtp.security = "none" would send smtp.username and its password in clear text to {smtp.host}',
            path=config.path,
            hint='set smtp.security to "starttls" or "ssl" (only a relay on this machine may use "none")',
        )
    host = config.sendgrid.host
    if host.lower().startswith("http://") and not is_loopback(urlsplit(host).hostname or ""):
        raise ConfigError(
            f"sendgrid.host {host!r} would send the API key in clear text (http://)",
            path=config.path,
            hint="use https:// (only a stand-in on this machine may use http://)",
        )


_PURGE_DAYS = "subscribers.pending_purge_days"


def _validate_serve(config: Config, env: Mapping[str, str]) -> None:
    import ipaddress

    for dotted in (
        "serve.signups_per_address_per_day",
        "serve.signups_per_client_per_hour",
        "serve.preference_link_days",
        _PURGE_DAYS,
    ):
        section, key = dotted.split(".")
        value = getattr(getattr(config, section), key)
        if value < 1:
            raise ConfigError(f"{dotted} must be 1 or more, got {value}", **_where(config, env, dotted))
    for host in config.serve.allowed_hosts:
        if "*" in host.removeprefix("*.") or not host.strip():
            where = _where(config, env, "serve.allowed_hosts")
            raise ConfigError(
                f"serve.allowed_hosts: {host!r} is not a host name (e.g. news.clinic.example, *.clinic.example)",
                **where,
            )
    for proxy in config.serve.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            where = _where(config, env, "serve.trusted_proxies")
            raise ConfigError(
                f"serve.trusted_proxies: {proxy!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)",
                **where,
            ) from None


def require(config: Config, *dotted: str) -> None:
    """Raise ConfigError naming the first empty setting among `dotted` ('newsletter.postal_address')."""
    for name in dotted:
        section, key = name.split(".")
        if not getattr(getattr(config, section), key):
            raise ConfigError(
                f"missing key '{name}'",
                path=config.path or config.root / CONFIG_NAME,
                hint=f"set {key} under [{section}] or the environment variable PAIN_NEWS_{section.upper()}_{key.upper()}",
            )

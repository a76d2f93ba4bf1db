"""One frozen settings object per island, read from `DIR/archipel.toml` and `ARCHIPEL_*` variables.

Every setting is declared once below with its default and a help line; `docs/settings.md` lists
them all (a test checks that none is undocumented). Environment variables win over the file so
that an operator can flip a switch without editing it.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

SETTINGS_FILE = "archipel.toml"


class SettingsError(ValueError):
    """The settings file or an ARCHIPEL_* variable is unusable; the message says which and why."""


def _setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    directory: Path = _setting(Path("."), "Folder of the island (set from the command line).")
    url: str = _setting("", "Public base URL of the island, e.g. https://ile.example.")
    name: str = _setting("", "Display name of the island.")
    handle: str = _setting("", "Username of the island actor (@handle@host).")
    database_url: str = _setting(
        "", "SQLAlchemy URL of the database; empty means SQLite in the island folder."
    )
    listen: str = _setting("", "HOST:PORT that `archipel serve` listens on; empty: from the URL.")
    secret_key: str = _setting("", "Random secret for sessions and tokens, made by `archipel init`.")
    allow_private_networks: bool = _setting(
        False,
        "Allow plain-http peers and private or loopback addresses (needed to federate on "
        "127.0.0.1). Off in production: outgoing requests to private addresses are refused.",
    )
    trusted_proxies: tuple[str, ...] = _setting(
        (),
        "Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed.",
    )
    max_body_bytes: int = _setting(1_000_000, "Largest request body accepted by the inbox.")
    max_upload_bytes: int = _setting(10_000_000, "Largest image or file a user can upload.")
    header_timeout: float = _setting(
        20.0, "Seconds a client has to send a complete request's headers, on a new connection "
        "or on a kept-alive one after the previous answer; then the connection is closed.",
    )
    body_timeout: float = _setting(
        30.0, "Seconds a client has to send a request's body once its headers have arrived, "
        "plus one second per 1000 bytes received (a large upload on a slow line still "
        "arrives); then it gets a 408 and the connection is closed.",
    )
    inbox_backlog_per_server: int = _setting(
        10_000, "Activities of one server that may wait to be processed; past that, its next POSTs "
        "get a 429 (Retry-After: 60) until the inbox worker catches up. 0: no limit.",
    )
    max_connections: int = _setting(
        500, "Open connections one `archipel serve` process accepts; beyond, new ones get a "
        "503 and are closed (keep it under the process's open-file limit).",
    )
    media_directory: str = _setting(
        "", "Folder of uploaded images and files; empty means DIR/media (relative: inside DIR)."
    )
    fetch_max_bytes: int = _setting(1_000_000, "Largest document we read from another server.")
    fetch_timeout: float = _setting(10.0, "Seconds allowed for one outgoing request.")
    delivery_give_up_hours: float = _setting(
        48.0, "Hours after which a delivery that keeps failing is abandoned."
    )
    delivery_concurrency: int = _setting(64, "Deliveries sent at the same time by one node.")
    delivery_per_host: int = _setting(
        6, "Deliveries sent at the same time to one remote host; its other deliveries wait, unclaimed."
    )
    poll_interval: float = _setting(
        0.25, "Seconds between looks at the database for work written by other processes."
    )
    retention_days: float = _setting(
        7.0, "Days that processed or ignored received activities, sent deliveries and sent "
        "e-mail are kept before they are purged (a repeated activity id older than this is "
        "treated as new).",
    )
    failed_retention_days: float = _setting(
        30.0, "Days that failed received activities, abandoned deliveries and abandoned e-mail "
        "are kept for the operator before they are purged.",
    )
    blocked_domains: tuple[str, ...] = _setting(
        (), "Domains (or host:port) this island never federates with, subdomains included: "
        "their activities are dropped without a hint, nothing is fetched from or sent to them.",
    )
    allowed_domains: tuple[str, ...] = _setting(
        (), "If set, the only domains (or host:port) this island federates with (a closed network).",
    )
    follow_back: bool = _setting(
        False, "When another island follows this one, follow it back.",
    )
    hub: bool = _setting(
        False, "Re-share what this island receives from the islands it follows (a hub of the "
        "archipelago), so that islands following the hub receive it too.",
    )
    catchup_minutes: float = _setting(
        15.0, "Minutes between two catch-up walks of each followed island's catalog."
    )
    proposals_per_hour: int = _setting(
        5, "Proposals one client address may send through the public form in an hour (0: no limit)."
    )
    proposals_per_host_per_hour: int = _setting(
        20, "Proposals by mention accepted from one remote server (host) in an hour (0: no limit)."
    )
    login_failures_per_address: int = _setting(
        20, "Failed logins one client address may make in `login_failure_window_minutes` before its "
        "logins are refused with a 429 until the window frees (0: no limit)."
    )
    login_failures_per_account: int = _setting(
        10, "Failed logins with one user name (from any address) in `login_failure_window_minutes` "
        "before logins to it are refused with a 429 until the window frees (0: no limit)."
    )
    login_failure_window_minutes: float = _setting(
        15.0, "Minutes over which failed logins are counted (a sliding window)."
    )
    remote_lookups_per_hour: int = _setting(
        30, "Look-ups of another server that one client address may cause in an hour through "
        "/suivre and /authorize_interaction (0: no limit)."
    )
    search_seconds_per_minute: float = _setting(
        30.0, "Seconds of searching (search pages, their JSON and feeds, the map's data, the agenda) "
        "one client address may use, refilled each minute; past it, its searches are answered 429 "
        "until the budget refills (0: no limit)."
    )
    concurrent_searches: int = _setting(
        2, "Searches (as above) running at once in this process (about one per processor); more "
        "wait their turn."
    )
    searches_per_address: int = _setting(
        4, "Searches (as above) one client address may have running or waiting at once; more are "
        "answered 429 (0: no limit)."
    )
    waiting_searches: int = _setting(
        32, "Searches that may wait for their turn; past them, searches are answered 503 for a "
        "few seconds."
    )
    remote_lookup_seconds: float = _setting(
        3.0, "Longest time a page spends looking up another server for a visitor (/suivre, "
        "/authorize_interaction); every failed look-up is answered after exactly this time."
    )
    proposal_max_links: int = _setting(
        10, "Most web links a proposal (form or mention) may contain; more is refused with a clear message."
    )
    proposal_max_chars: int = _setting(
        30_000, "Most characters of text a proposal (form or mention) may hold, all fields together."
    )
    smtp_host: str = _setting(
        "", "SMTP server that sends e-mail (proposers told of decisions, invitations, password resets); "
        "empty: mail stays queued."
    )
    smtp_port: int = _setting(25, "Port of the SMTP server.")
    smtp_username: str = _setting("", "SMTP login, if the server asks for one.")
    smtp_password: str = _setting("", "SMTP password, if the server asks for one.")
    smtp_starttls: bool = _setting(False, "Switch the SMTP connection to TLS (STARTTLS) before sending.")
    mail_from: str = _setting("", "Sender address of e-mail; empty: archipel@ the island's host.")
    mail_folder: str = _setting(
        "", "Folder (relative: inside DIR) where e-mail is written as .eml files instead of being sent "
        "over SMTP: to try Archipel without a mail server (`archipel demo` uses it). Empty: SMTP."
    )
    mail_give_up_hours: float = _setting(
        48.0, "Hours after which an e-mail that cannot be sent is abandoned (and its address erased)."
    )
    letter_weekday: int = _setting(
        4, "Day of the week the letter goes out (1 Monday … 7 Sunday); monthly subscribers get the "
        "first letter of each month. 0: never by itself (only `archipel letter --send-now`).",
    )
    letter_hour: int = _setting(8, "Hour (UTC, 0-23) of that day from which the letter goes out.")
    map_tiles: str = _setting(
        "", "Background of the maps (/carte, the item form): empty for a plain background (no "
        "third party); an XYZ tile URL template such as https://tiles.example/{z}/{x}/{y}.png "
        "(the pages' CSP then allows pictures from that host, and only it); or the path of a "
        "raster PMTiles file (ending in .pmtiles, relative: inside DIR) that the island serves "
        "itself at /carte/fond.pmtiles.",
    )
    map_tiles_attribution: str = _setting(
        "", "Credit shown on the maps for those tiles (their licence usually requires one), "
        "e.g. « © OpenStreetMap contributors ».",
    )
    log_level: str = _setting("INFO", "Logging level: DEBUG, INFO, WARNING or ERROR.")
    log_format: str = _setting(
        "text", "How `archipel serve` writes its log on stderr, one line per event: `text`, or "
        "`json` (one object per line: time, level, logger, message, and the activity, delivery "
        "or mail id when the event is about one).",
    )
    metrics_token: str = _setting(
        "", "Secret that lets a client from outside read /metrics (`Authorization: Bearer <token>`); "
        "empty: /metrics answers only loopback and private addresses (behind `trusted_proxies`).",
    )

    # ---- derived values -------------------------------------------------------------------
    @property
    def host(self) -> str:
        """host[:port] of the public URL: 'host' means host and port everywhere."""
        return urlsplit(self.url).netloc

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.directory / 'archipel.db').resolve()}"

    @property
    def listen_host_port(self) -> tuple[str, int]:
        if self.listen:
            host, _, port = self.listen.rpartition(":")
            return host or "127.0.0.1", int(port)
        parts = urlsplit(self.url)
        return "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def can_send_mail(self) -> bool:
        """Mail leaves the queue: over SMTP, or into the mail folder."""
        return bool(self.smtp_host or self.mail_folder)

    @property
    def effective_media_directory(self) -> Path:
        if not self.media_directory:
            return self.directory / "media"
        path = Path(self.media_directory).expanduser()
        return path if path.is_absolute() else self.directory / path

    @property
    def map_tiles_file(self) -> Path | None:
        """The self-hosted PMTiles file of the maps, if `map_tiles` names one."""
        if not self.map_tiles.endswith(".pmtiles") or "://" in self.map_tiles:
            return None
        path = Path(self.map_tiles).expanduser()
        return path if path.is_absolute() else self.directory / path

    def absolute(self, path: str) -> str:
        return self.url.rstrip("/") + path


def setting_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(Settings) if f.name != "directory"]


def _coerce(name: str, kind, value):
    try:
        if kind is bool or kind == "bool":
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
        if kind in ("tuple[str, ...]",):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name!r}: cannot read {value!r} as {kind}") from None


def load_settings(directory: str | Path, environ: dict[str, str] | None = None) -> Settings:
    directory = Path(directory)
    path = directory / SETTINGS_FILE
    if not path.exists():
        raise SettingsError(f"{path} not found: is {directory} an island folder (archipel init)?")
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from None
    environ = os.environ if environ is None else environ
    values: dict = {"directory": directory}
    known = {f.name: f for f in setting_fields()}
    unknown = set(raw) - set(known)
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    for name, f in known.items():
        env_name = "ARCHIPEL_" + name.upper()
        if env_name in environ:
            values[name] = _coerce(env_name, f.type, environ[env_name])
        elif name in raw:
            values[name] = _coerce(name, f.type, raw[name])
    settings = Settings(**values)
    if not settings.url or not settings.handle:
        raise SettingsError(f"{path}: 'url' and 'handle' are required")
    if settings.log_format not in ("text", "json"):
        raise SettingsError(f"{path}: 'log_format' must be \"text\" or \"json\"")
    if settings.map_tiles and not (tile_origin(settings.map_tiles) or settings.map_tiles_file):
        raise SettingsError(f"{path}: 'map_tiles' must be an http(s) URL with {{z}}, {{x}} and {{y}}, "
                            "or the path of a .pmtiles file")
    return settings


def tile_origin(template: str) -> str:
    """scheme://host[:port] of an XYZ tile URL template, or "" if it is not one."""
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return ""
    # One host, named: the CSP allows exactly it (no `{s}` subdomain rotation).
    if "{" in parts.netloc or not all(key in template for key in ("{z}", "{x}", "{y}")) or any(c in template for c in " ;'\"\n"):
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def write_settings(directory: Path, **values) -> Path:
    """Write the settings that differ from the defaults, each with its help line."""
    lines = ["# Archipel island settings. Every setting is described in docs/settings.md.", ""]
    for f in setting_fields():
        if f.name in values and values[f.name] != f.default:
            lines.append(f"# {f.metadata['help']}")
            lines.append(f"{f.name} = {_toml_value(values[f.name])}")
    path = Path(directory) / SETTINGS_FILE
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path

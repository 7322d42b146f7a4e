"""Process settings: environment (``INTERLOCK_`` prefix), then an env file, then defaults.

Every field can also be overridden by a CLI flag of ``interlock run``; the CLI passes flags as init
arguments, which pydantic-settings ranks above the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from router.logs import level_number


class Settings(BaseSettings):
    """Runtime knobs. Limits are per process; see docs/operations.md for tuning advice."""

    model_config = SettingsConfigDict(
        env_prefix="INTERLOCK_", env_file=".env", extra="ignore", frozen=True
    )

    routes: Path = Field(
        default=Path("routes"), description="Folder of route/source/connector YAML"
    )
    data_dir: Path = Field(default=Path("data"), description="Where the LMDB journal lives")
    host: str = Field(default="127.0.0.1", description="Ingress bind address")
    port: int = Field(default=8080, ge=0, le=65535, description="Ingress port")
    demo: bool = Field(
        default=False,
        description="Demo mode (`--demo`, `make run`): accept a source's verification secret "
        "taken from its placeholder's shipped default; off: such a source refuses to start",
    )

    admin_host: str = Field(default="127.0.0.1", description="Admin API bind address")
    admin_port: int = Field(default=8081, ge=0, le=65535, description="Admin API port")
    admin_token: SecretStr | None = Field(
        default=None,
        description="Admin bearer token(s), comma-separated for rotation; unset: a random token "
        "is written to DATA_DIR/admin.token (mode 0600) at start",
    )

    map_size_mb: int = Field(
        default=65536, ge=1, description="LMDB map size: the journal's ceiling (a sparse file)"
    )
    sync: bool = Field(default=True, description="fsync every journal commit (the 2xx promise)")

    group_commit_max: int = Field(default=512, ge=1, description="Messages per journal transaction")
    group_commit_ms: float = Field(
        default=0.0,
        ge=0,
        description="Extra wait to fill a batch; 0 batches what arrives meanwhile",
    )
    max_inflight: int = Field(
        default=20000,
        ge=1,
        description="Credit: accepted deliveries not yet finished, process-wide",
    )
    mailbox_size: int = Field(
        default=64, ge=1, description="Journal batches queued before ingress answers 503"
    )
    idempotency_retention_s: float = Field(
        default=7 * 86400,
        gt=0,
        description="How long a dedupe key (and a finished message) is kept (7 days)",
    )
    dead_letter_retention_s: float = Field(
        default=30 * 86400,
        gt=0,
        description="Dead letters older than this leave the journal (see dead_letter_expiry)",
    )
    dead_letter_expiry: Literal["archive", "purge"] = Field(
        default="archive",
        description="archive: appended to DATA_DIR/archive/dead-letters-<day>.jsonl first; "
        "purge: removed",
    )
    sweep_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often expired keys and old finished messages are removed",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="After decompression")
    body_timeout_s: float = Field(default=10.0, gt=0, description="Deadline to receive a body")
    header_timeout_s: float = Field(
        default=15.0, gt=0, description="Deadline for a connection to send its request headers"
    )
    max_connections: int = Field(default=1024, ge=1, description="Open ingress connections at most")
    drain_grace_s: float = Field(
        default=1.0,
        ge=0,
        description="On SIGTERM, keep accepting this long after /readyz turns 503",
    )
    retry_after_s: float = Field(default=1.0, gt=0, description="Retry-After sent with a 503")
    shed_lag_ms: float = Field(
        default=20.0,
        ge=0,
        description="Answer 503 before reading a body while the event loop runs this late; 0: off",
    )
    shed_ack_ms: float = Field(
        default=25.0,
        ge=0,
        description="Cap the requests waiting for their commit while even the fastest ack takes "
        "longer than this (adaptive, per 100 ms); 0: off",
    )
    shutdown_grace_s: float = Field(
        default=20.0, gt=0, description="How long in-flight requests may take to finish on SIGTERM"
    )
    log_level: str = Field(
        default="info",
        description="Log threshold: debug, info, warning or error (`--log-level` wins)",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint (`http://collector:4318/v1/traces`); unset: no "
        "spans are recorded (needs the `otel` extra)",
    )
    switch_interval_s: float = Field(
        default=0.005,
        gt=0,
        description="sys.setswitchinterval; Python's 5 ms measured best end to end",
    )

    backbone: str = Field(
        default="",
        description="Cluster mode: the NATS JetStream URL (`nats://127.0.0.1:4222`) that N "
        "instances share; unset: one process on its own LMDB journal (docs/operations.md)",
    )
    backbone_prefix: str = Field(
        default="interlock",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="Cluster mode: the prefix of the stream, subjects, consumers and KV buckets",
    )
    partitions: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="Cluster mode: partition subjects; each is consumed by one instance at a time "
        "(fixed per backbone: every instance must agree)",
    )
    backbone_shards: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Cluster mode: streams the partitions are spread over (partition p in stream "
        "p % shards), so the backbone's work spreads over NATS servers and their disks (fixed "
        "per backbone, at most the partitions)",
    )
    instance: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_-]{0,64}$",
        description="Cluster mode: this instance's name; unset: derived from the host name and "
        "the data folder, so a restart on the same folder is the same instance",
    )
    lease_s: float = Field(
        default=6.0,
        gt=0,
        description="Cluster mode: a partition whose owner stops renewing its lease for this long "
        "is taken over",
    )
    backbone_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Cluster mode: replicas of the stream and buckets (3 on a 3-server NATS "
        "cluster: a publish ack then means a quorum has it)",
    )
    reuse_port: bool = Field(
        default=False,
        description="Bind the ingress port with SO_REUSEPORT, so several processes share it "
        "(set by `interlock run --workers N`)",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level_number(value)  # ValueError names the known levels
        return value.lower()

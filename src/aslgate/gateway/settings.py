"""Gateway settings: one pydantic model, passed to workers as JSON in an environment variable."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from aslgate.gateway.db import NANO

SETTINGS_ENV = "ASLGATE_GATEWAY_SETTINGS"
DEFAULT_PRICE = (25.0, 125.0)  # USD per million input / output tokens


class Price(BaseModel):
    input_per_mtok: float = DEFAULT_PRICE[0]
    output_per_mtok: float = DEFAULT_PRICE[1]

    @property
    def input_nusd(self) -> int:  # nano-USD per token
        return round(self.input_per_mtok * NANO / 1_000_000)

    @property
    def output_nusd(self) -> int:
        return round(self.output_per_mtok * NANO / 1_000_000)


class Settings(BaseModel):
    upstream: str  # base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1
    determination: str
    db: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    model: str | None = None  # the public model id; default: the determination's model
    upstream_model: str | None = None  # the name sent upstream; default: the public id
    upstream_api_key: str | None = None
    upstream_timeout: float = 60.0  # seconds without a byte from the upstream -> 504 / stream cut
    max_connections: int = 64  # the pooled upstream client (requests beyond wait their turn)
    max_body_bytes: int = 1024 * 1024
    default_max_tokens: int = 4096  # reserved (and sent upstream) when the client names no limit
    prices: dict[str, Price] = Field(default_factory=dict)
    default_price: Price = Field(default_factory=Price)
    key_rpm: int | None = None  # defaults for keys / orgs without their own limit (None: unlimited)
    key_tpm: int | None = None
    org_rpm: int | None = None
    org_tpm: int | None = None
    classifier: str | None = None  # module:factory; default: the project's offline model
    store_prompts: bool = False
    stream_window_chars: int = 2000  # streamed text is classified on the last N characters ...
    stream_check_every_chars: int = 200  # ... each time this many new characters arrived
    graceful_timeout: float = 30.0
    epoch_poll_seconds: float = 1.0
    log_level: str = "info"

    def price(self, model: str) -> Price:
        return self.prices.get(model, self.default_price)

    def to_env(self) -> None:
        os.environ[SETTINGS_ENV] = self.model_dump_json()

    @classmethod
    def from_env(cls) -> Settings:
        return cls.model_validate_json(os.environ[SETTINGS_ENV])

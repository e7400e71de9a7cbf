"""Run the gateway under uvicorn: N worker processes sharing one database."""

from __future__ import annotations

import os
import shutil
import tempfile

from aslgate.gateway.app import load_classifier
from aslgate.gateway.db import make_engine
from aslgate.gateway.logs import UVICORN_LOG_CONFIG
from aslgate.gateway.policy import load_determination
from aslgate.gateway.settings import Settings


def run_server(settings: Settings) -> None:
    """Check everything a worker needs (determination, database, classifier), then serve until SIGTERM/SIGINT.

    On SIGTERM uvicorn stops accepting, lets in-flight requests (streams included) finish for up to
    `graceful_timeout` seconds, then cancels the rest; every request settles its billing and audit
    record on the way out."""
    import uvicorn

    load_determination(settings.determination)
    make_engine(settings.db).dispose()
    load_classifier(settings)  # fail here, in one line, rather than in every worker
    settings.to_env()
    prom_dir = None
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prom_dir = tempfile.mkdtemp(prefix="aslgate-prom-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = prom_dir
    try:
        uvicorn.run(
            "aslgate.gateway.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=UVICORN_LOG_CONFIG,
            access_log=False,
            timeout_graceful_shutdown=settings.graceful_timeout,  # type: ignore[arg-type]
            timeout_keep_alive=30,
            lifespan="on",
        )
    finally:
        if prom_dir:
            shutil.rmtree(prom_dir, ignore_errors=True)

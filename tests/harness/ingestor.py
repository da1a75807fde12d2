"""The ingestor for tests: its configuration and ``python -m ingestor run`` as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingestor.config import IngestorConfig
from tests.harness.processes import REPO
from tests.harness.services import Broker


def make_config(
    db: str, broker: Broker, root: str, tmp_path: Path, **overrides: object
) -> IngestorConfig:
    values: dict[str, object] = {
        "database_url": db,
        "mqtt_url": broker.url,
        "topic_root": root,
        "client_id": f"ingestor-{root}",
        "batch_rows": 500,
        "batch_ms": 50,
        "receive_maximum": 2000,
        "retry_max_s": 1.0,
        "status_file": tmp_path / "status.json",
    }
    values.update(overrides)
    return IngestorConfig.model_validate(values)


class IngestorProcess:
    """``python -m ingestor run`` as a child process (for SIGKILL tests)."""

    def __init__(self, config: IngestorConfig, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "EMUSA_DATABASE_URL": self.config.database_url,
            "EMUSA_MQTT_URL": self.config.mqtt_url,
        }
        args = [sys.executable, "-m", "ingestor", "run"]
        for name in ("topic_root", "client_id", "batch_rows", "batch_ms", "receive_maximum"):
            args += [f"--{name.replace('_', '-')}", str(getattr(self.config, name))]
        args += ["--status-file", str(self.config.status_file), "--retry-max-s", "1"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=log)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def terminate(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return None
        finally:
            self.proc = None

"""Where the gateway keeps its files when the configuration does not say: a per-user data
folder, the platform's own (platformdirs), so the same defaults work on the plant's
Windows PC and on a Linux server.

| system | default folder |
|---|---|
| Windows | ``%LOCALAPPDATA%\\EMUSA\\emusa-gateway`` |
| Linux | ``$XDG_DATA_HOME/emusa-gateway`` (``~/.local/share/emusa-gateway``) |
| macOS | ``~/Library/Application Support/emusa-gateway`` |

``EMUSA_GATEWAY_DATA_DIR`` replaces the folder (a Windows service running as
LocalSystem should set it, or the queue lands in the system profile).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

DATA_DIR_VAR = "EMUSA_GATEWAY_DATA_DIR"
STATUS_VAR = "EMUSA_GATEWAY_STATUS_FILE"
QUEUE_FILE = "gateway-queue.sqlite"
STATUS_FILE = "gateway-status.json"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The gateway's data folder (not created here)."""
    env = os.environ if env is None else env
    override = env.get(DATA_DIR_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("emusa-gateway", "EMUSA", roaming=False))


def default_queue_path(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / QUEUE_FILE


def default_status_file(env: Mapping[str, str] | None = None) -> Path:
    """``EMUSA_GATEWAY_STATUS_FILE``, else the status file in the data folder."""
    env = os.environ if env is None else env
    override = env.get(STATUS_VAR)
    return Path(override).expanduser() if override else data_dir(env) / STATUS_FILE

"""What differs on the plant's Windows PC, emulated here: an event loop without signal
handlers (Windows' loops raise NotImplementedError), Ctrl-Break (SIGBREAK), the per-user
data folder, COM port names."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import platformdirs
import platformdirs.windows
import pytest

from gateway import paths
from gateway.stopping import stop_on_signals, stop_signals

pytestmark = pytest.mark.unit


class WindowsLikeLoop(asyncio.SelectorEventLoop):
    """Like ProactorEventLoop on Windows: no loop-level signal handlers."""

    def add_signal_handler(self, sig: int, callback: object, *args: object) -> None:
        raise NotImplementedError

    def remove_signal_handler(self, sig: int) -> bool:
        raise NotImplementedError


def _stops_on(loop: asyncio.AbstractEventLoop, sig: int) -> tuple[str, bool]:
    async def main() -> tuple[str, bool]:
        stop = asyncio.Event()
        with stop_on_signals(asyncio.get_running_loop(), stop) as how:
            asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), sig)
            try:
                await asyncio.wait_for(stop.wait(), 10)
            except TimeoutError:
                return how, False
            return how, True

    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_windows_loop_stops_on_ctrl_c_and_sigterm_and_restores_handlers(sig: int) -> None:
    before = signal.getsignal(sig)
    how, stopped = _stops_on(WindowsLikeLoop(), sig)
    assert (how, stopped) == ("signal", True)
    assert signal.getsignal(sig) is before  # put back: the next run or test is not affected


def test_ctrl_break_stops_where_the_os_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # SIGBREAK exists only on Windows: stand in SIGUSR1 for it
    monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)
    assert signal.SIGUSR1 in stop_signals()
    assert _stops_on(WindowsLikeLoop(), signal.SIGUSR1) == ("signal", True)


def test_posix_loop_uses_loop_handlers() -> None:
    assert _stops_on(asyncio.SelectorEventLoop(), signal.SIGTERM) == ("loop", True)
    assert signal.SIGBREAK not in stop_signals() if hasattr(signal, "SIGBREAK") else True


def test_data_folder_defaults_and_override(tmp_path: Path) -> None:
    env = {"EMUSA_GATEWAY_DATA_DIR": str(tmp_path / "dados")}
    assert paths.default_queue_path(env) == tmp_path / "dados" / "gateway-queue.sqlite"
    assert paths.default_status_file(env) == tmp_path / "dados" / "gateway-status.json"
    status = {**env, "EMUSA_GATEWAY_STATUS_FILE": str(tmp_path / "s.json")}
    assert paths.default_status_file(status) == tmp_path / "s.json"
    assert paths.data_dir({}) == Path(platformdirs.user_data_dir("emusa-gateway", "EMUSA"))


def test_data_folder_on_windows_is_under_local_appdata(monkeypatch: pytest.MonkeyPatch) -> None:
    # platformdirs' Windows rules, reading the folder from the environment as on a PC
    # without the shell API
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    monkeypatch.setattr(
        platformdirs.windows, "get_win_folder", platformdirs.windows.get_win_folder_from_env_vars
    )
    monkeypatch.setenv("LOCALAPPDATA", r"C:\Users\operador\AppData\Local")
    folder = str(paths.data_dir({}))
    assert folder.startswith(r"C:\Users\operador\AppData\Local")
    assert folder.replace("\\", "/").endswith("EMUSA/emusa-gateway")
    assert "Roaming" not in folder  # the queue is machine-local, never roamed

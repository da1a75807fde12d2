"""The shared package's one exception base."""

from __future__ import annotations


class ContractError(ValueError):
    """A topic, payload or setting that breaks the contract; ``reason`` is a short stable
    code, ``detail`` names what is wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SettingsError(ContractError):
    """An environment variable or flag is missing or malformed; the message names it."""

    def __init__(self, detail: str) -> None:
        super().__init__("bad_setting", detail)

    def __str__(self) -> str:
        return self.detail

"""The shared package's one exception base."""

from __future__ import annotations

from typing import ClassVar


class ContractError(ValueError):
    """A topic, payload or setting that breaks the contract; ``reason`` is a short stable
    code, ``detail`` names what is wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ReportedError(ContractError):
    """A contract error read by a person as it is: its message is the detail alone (the
    subclass's ``code`` is the reason)."""

    code: ClassVar[str]

    def __init__(self, detail: str) -> None:
        super().__init__(self.code, detail)

    def __str__(self) -> str:
        return self.detail


class SettingsError(ReportedError):
    """An environment variable or flag is missing or malformed; the message names it."""

    code = "bad_setting"

"""A real SMTP server for tests (aiosmtpd) and the mailbox of what it received."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Mailbox:
    """What a real SMTP server (aiosmtpd) received; ``fail_next`` answers 451 that many
    times first (a transient failure the client must retry)."""

    messages: list[tuple[Envelope, Message]] = field(default_factory=list)
    fail_next: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.refused += 1
                return "451 4.3.0 try again later"
            content = envelope.original_content or b""
            self.messages.append((envelope, message_from_bytes(content, policy=policy.default)))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    box: Mailbox
    controller: Controller | None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}?starttls=0&timeout=5"

    def start(self) -> None:
        self.controller = Controller(self.box, hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

"""An email whose mail job is killed mid-send goes out at once, not when its claim expires.

A real `rq worker` mails the notices of a send to ERP through an SMTP server that holds the
first message open; the work horse (or the whole worker) is killed meanwhile. Its claim on
those notices must not keep them from the next mail job for CLAIM_EXPIRES (10 minutes): the
worker frees it when it sees the horse die, and a new worker's first maintenance pass frees
the claims of a job whose worker is gone.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tests.processes import free_port, kill_horse, kill_whole
from workflow import erp

pytestmark = [pytest.mark.own_database("a real rq worker process reads its records"),
              pytest.mark.process]


class HoldingInbox:
    """aiosmtpd handler: the first message is held (its DATA never answered) until released;
    every message answered is received, by recipient."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.holding = threading.Event()  # the first message is being held
        self.release = threading.Event()
        self._held = False

    async def handle_DATA(self, server, session, envelope):
        if not self._held:
            self._held = True
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        self.received.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(monkeypatch):
    from aiosmtpd.controller import Controller

    inbox = HoldingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    for name, value in (("MAIL_SERVER", "127.0.0.1"), ("MAIL_PORT", str(controller.port)),
                        ("MAIL_USE_TLS", "0"), ("MAIL_USERNAME", ""),
                        ("MAIL_FROM", "Desk <desk@example.test>")):
        monkeypatch.setenv(name, value)  # the worker's settings
    yield inbox
    inbox.release.set()
    controller.stop()


@pytest.fixture(autouse=True)
def mail_at_once(app):
    app.config["NOTIFY_COALESCE_SECONDS"] = 0


def _until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.1)


def _send_and_hold(smtp, people, erp_commitment):
    """Send to ERP: the worker mails each approver; the first email is held open."""
    erp.send_to_erp(people.project_admin, erp_commitment)
    _until(smtp.holding.is_set, 30, "the worker starts mailing")


def _approvers(people, approver) -> list[str]:
    return sorted([approver.email, people.company_admin.email])


def test_a_mail_job_whose_horse_is_killed_mid_send_is_mailed_again_at_once(
        smtp, workers, people, approver, erp_commitment):
    worker = workers("worker")
    _send_and_hold(smtp, people, erp_commitment)
    assert kill_horse(worker)
    # Every approver gets the email, once: well before the 30 s maintenance pass, and not
    # 10 minutes later when the killed job's claim would have expired.
    _until(lambda: sorted(smtp.received) == _approvers(people, approver), 20,
           "every approver has the email")
    time.sleep(1)
    assert sorted(smtp.received) == _approvers(people, approver)
    assert worker.poll() is None


def test_a_mail_job_killed_with_its_worker_is_mailed_by_the_next_worker(
        smtp, workers, people, approver, erp_commitment):
    kill_whole_at = workers("first")
    _send_and_hold(smtp, people, erp_commitment)
    kill_whole(kill_whole_at)
    workers("second")  # its first maintenance pass frees the dead job's claim
    _until(lambda: sorted(smtp.received) == _approvers(people, approver), 30,
           "every approver has the email")
    time.sleep(1)
    assert sorted(smtp.received) == _approvers(people, approver)

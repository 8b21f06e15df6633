"""Connecting the app to the test sandbox the way a user does, and mapping what a test needs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from extensions import db
from models import Category, CostMapping, QboRecord
from quickbooks_online.connection import authorization_url, complete_connection, get_connection
from quickbooks_online.lists import import_lists

DEMO_REALM = "9341453050298165"


def approve_in_sandbox(authorize_url: str, realm_id: str = DEMO_REALM) -> dict[str, str]:
    """Press "Connect" on the sandbox's authorize page; return the callback's query."""
    response = requests.post(authorize_url, data={"realmId": realm_id, "decision": "allow"},
                             allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def connect(admin) -> None:
    """The OAuth flow through intuit-oauth, then the company's lists imported."""
    answer = approve_in_sandbox(authorization_url("test-state"))
    complete_connection(admin, answer["code"], answer["realmId"])
    import_lists()


def _qbo_id(entity: str, name: str) -> str:
    qbo_id = db.session.scalar(select(QboRecord.qbo_id).where(
        QboRecord.realm_id == get_connection().realm_id, QboRecord.entity == entity,
        QboRecord.name == name))
    assert qbo_id, f"{entity} {name} not imported"
    return qbo_id


def map_for(commitment, *, item: str = "Concrete - Subcontract",
            vendor: str = "Summit Concrete Co.",
            job: str = "Riverside Holdings:Riverside Medical Office Building") -> None:
    """Link the project, vendor and every SOV cost code + category; choose the AP account."""
    get_connection().ap_account_id = _qbo_id("Account", "Accounts Payable (A/P)")
    commitment.project.qbo_customer_id = _qbo_id("Customer", job)
    commitment.vendor.qbo_vendor_id = _qbo_id("Vendor", vendor)
    for line in commitment.sov_lines:
        exists = db.session.scalar(select(CostMapping).filter_by(
            cost_code_id=line.cost_code_id, category_id=line.category_id))
        if exists is None:
            db.session.add(CostMapping(cost_code_id=line.cost_code_id,
                                       category_id=line.category_id,
                                       qbo_item_id=_qbo_id("Item", item), qbo_name=item))
    db.session.commit()


def category(name: str) -> Category:
    return db.session.scalar(select(Category).filter_by(name=name))


def work_burst(queue, **options) -> None:
    """An rq SimpleWorker works ``queue`` in this process until it is empty, then the
    process's SIGINT/SIGTERM handlers are put back: the worker installs its own, and one left
    behind would turn a later SIGTERM into ``StopRequested`` inside some other test."""
    import signal

    from rq import SimpleWorker

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True, **options)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def run_jobs(timeout: float = 20.0) -> None:
    """Inline: the jobs already ran. With Redis: a real RQ worker (in this process, burst mode,
    with its scheduler) works the queue until nothing is queued or scheduled for a retry."""
    import time

    from rq.registry import ScheduledJobRegistry

    from jobs.queue import get_queue, is_inline

    if is_inline():
        return
    queue = get_queue()
    scheduled = ScheduledJobRegistry(queue=queue)
    deadline = time.monotonic() + timeout
    while True:
        work_burst(queue, with_scheduler=True)
        if not len(scheduled) and not len(queue):
            return
        assert time.monotonic() < deadline, "jobs still waiting after the timeout"
        time.sleep(0.3)


def start_worker(app, redis_url: str, log_path, *, new_session: bool = False):
    """`rq worker` with our worker class and the test app's settings, as its own process
    (``new_session``: in a process group of its own, so the test can kill it whole)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    config = app.config
    env = {**os.environ,
           "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": redis_url,
           "RQ_QUEUE": config["RQ_QUEUE"], "SECRET_KEY": config["SECRET_KEY"],
           "QBO_CLIENT_ID": config["QBO_CLIENT_ID"],
           "QBO_CLIENT_SECRET": config["QBO_CLIENT_SECRET"],
           "QBO_REDIRECT_URI": config["QBO_REDIRECT_URI"],
           "QBO_ENVIRONMENT": config["QBO_ENVIRONMENT"], "QBO_API_URL": config["QBO_API_URL"],
           "QBO_TOKEN_KEY": config["QBO_TOKEN_KEY"],
           "EXPORT_RETRY_INTERVALS": ",".join(str(s) for s in config["EXPORT_RETRY_INTERVALS"]),
           "EXPORT_JOB_TIMEOUT": str(config["EXPORT_JOB_TIMEOUT"]),
           "QBO_CDC_INTERVAL_MINUTES": str(config["QBO_CDC_INTERVAL_MINUTES"])}
    rq = Path(sys.executable).parent / "rq"
    return subprocess.Popen(
        [str(rq), "worker", "--with-scheduler", "--worker-class", "jobs.worker.Worker",
         "--url", redis_url, config["RQ_QUEUE"]],
        cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log_path.open("w"),
        stderr=subprocess.STDOUT, start_new_session=new_session)


def local_redis_url() -> str:
    """REDIS_URL, else the local Redis every developer machine and CI has. A missing Redis
    skips the test here and fails it in CI."""
    import os

    from redis import Redis
    from redis.exceptions import RedisError

    from tests.conftest import LOCAL_REDIS_URL, require

    url = os.environ.get("REDIS_URL") or LOCAL_REDIS_URL
    try:
        Redis.from_url(url, socket_connect_timeout=1).ping()
    except RedisError:
        require(False, f"no Redis at {url}")
    return url


def use_redis(app) -> str:
    """Queue on Redis for this test even in the embedded run (REDIS_URL unset): the same
    local Redis the worker tests use."""
    url = local_redis_url()
    app.config["REDIS_URL"] = url
    app.extensions["changeorder.queue"] = None
    return url

"""Lighthouse (mobile) scores for the approver's inbox and a CCO page of the demo company.

    .venv/bin/python -m benchmarks.lighthouse [--lighthouse PATH] [--chrome /usr/bin/chromium]

Needs Lighthouse (``npm install lighthouse@12`` anywhere; pass its ``node_modules/.bin/
lighthouse`` with --lighthouse, or have ``lighthouse`` on PATH) and Chromium. Serves the app with
the demo data on a loopback port from a temporary folder, logs in as the approver and the
project manager, and prints each page's score per category. Prints a note and exits 0 when
Lighthouse is not installed: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(instance: str, port: int) -> subprocess.Popen:
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FLASK_APP": "app", "QBO_SANDBOX_URL": f"{base}/qbo-sandbox",
           "QBO_REDIRECT_URI": f"{base}/erp/settings/callback", "HTMX_CDN": "0",
           "FLASK_RUN_PORT": str(port), "INSTANCE_PATH": instance}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env["DATABASE_URL"] = f"sqlite:///{instance}/lighthouse.db"
    flask = str(Path(sys.executable).parent / "flask")
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([flask, *command], cwd=ROOT, env=env, check=True,  # noqa: S603
                       capture_output=True)
    server = subprocess.Popen([flask, "run", "--port", str(port)], cwd=ROOT, env=env,  # noqa: S603
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            requests.get(base + "/auth/login", timeout=1)
            return server
        except requests.RequestException:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the app did not start")


def _cookie(base: str, email: str) -> str:
    session = requests.Session()
    page = session.get(base + "/auth/login", timeout=10).text
    token = page.split('name="csrf_token" type="hidden" value="', 1)[-1].split('"', 1)[0]
    session.post(base + "/auth/login", timeout=10, data={
        "email": email, "password": "changeorder-demo", "csrf_token": token})
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def _scores(lighthouse: str, chrome: str, url: str, cookie: str) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as out:
        report = Path(out) / "report.json"
        subprocess.run([lighthouse, url, "--quiet", "--output=json",  # noqa: S603
                        f"--output-path={report}", "--form-factor=mobile",
                        f"--only-categories={','.join(CATEGORIES)}",
                        "--chrome-flags=--headless=new --no-sandbox",
                        f"--extra-headers={json.dumps({'Cookie': cookie})}"],
                       env={**os.environ, "CHROME_PATH": chrome}, check=True,
                       capture_output=True)
        data = json.loads(report.read_text())
    return {name: round((data["categories"][name]["score"] or 0) * 100) for name in CATEGORIES}


def _first_cco(base: str, cookie: str) -> str | None:
    """The demo's first CCO page, found as a person would: projects → commitments → CCO."""
    import re

    def get(path: str) -> str:
        return requests.get(base + path, headers={"Cookie": cookie}, timeout=10).text

    project = re.search(r'href="(/projects/\d+/)"', get("/"))
    if not project:
        return None
    commitment = re.search(r'href="(/projects/\d+/commitments/\d+)"',
                           get(project.group(1) + "commitments/"))
    if not commitment:
        return None
    cco = re.search(r'href="(/projects/\d+/commitments/\d+/change-orders/\d+)"',
                    get(commitment.group(1)))
    return base + cco.group(1) if cco else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lighthouse", default=shutil.which("lighthouse"))
    parser.add_argument("--chrome", default="/usr/bin/chromium")
    args = parser.parse_args()
    if not args.lighthouse or not Path(args.lighthouse).exists():
        print("Lighthouse is not installed: npm install lighthouse@12, then pass "
              "--lighthouse …/node_modules/.bin/lighthouse")
        return
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as instance:
        server = _serve(instance, port)
        try:
            approver, manager = _cookie(base, "approver@example.com"), _cookie(base,
                                                                                "pm@example.com")
            pages = [("inbox (approver)", base + "/erp/", approver)]
            cco = _first_cco(base, manager)
            if cco:
                pages.append(("CCO page (PM)", cco, manager))
            print(f"{'page':<22}" + "".join(f"{c:>16}" for c in CATEGORIES))
            for name, url, cookie in pages:
                scores = _scores(args.lighthouse, args.chrome, url, cookie)
                print(f"{name:<22}" + "".join(f"{scores[c]:>16}" for c in CATEGORIES))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()

"""``python -m qbo_sandbox --host 127.0.0.1 --port 5055 [--state FILE]``"""

from __future__ import annotations

import argparse
import contextlib
import sys

from .demo_company import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEMO_REALM_ID
from .server import SandboxServer
from .state import OAuthClient, Sandbox


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qbo_sandbox",
        description="Local emulator of QuickBooks Online (Accounting API v3 + Intuit OAuth 2.0).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5055, help="port (default 5055)")
    parser.add_argument("--state", metavar="FILE",
                        help="keep the state in this JSON file between restarts")
    parser.add_argument("--rate-limit", type=int, default=500,
                        help="API requests per minute per realm (default 500)")
    parser.add_argument("--concurrency-limit", type=int, default=10,
                        help="API requests in flight per realm (default 10)")
    parser.add_argument("--access-token-ttl", type=int, default=3600,
                        help="access token lifetime in seconds (default 3600)")
    parser.add_argument("--client", nargs="+", action="append", default=[],
                        metavar=("CLIENT_ID CLIENT_SECRET", "REDIRECT_URI"),
                        help="register an OAuth client: ID SECRET [REDIRECT_URI ...] "
                             "(no URI: any loopback URI); may be repeated")
    parser.add_argument("--existing-books", action="store_true",
                        help="enter the demo company's existing purchase orders (books that "
                             "existed before the app: to link and import)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    clients = []
    for spec in args.client:
        if len(spec) < 2:
            print("--client needs CLIENT_ID CLIENT_SECRET [REDIRECT_URI ...]", file=sys.stderr)
            return 2
        clients.append(OAuthClient(spec[0], spec[1], spec[2:] or None))
    sandbox = Sandbox(
        rate_limit_per_minute=args.rate_limit,
        concurrency_limit=args.concurrency_limit,
        access_token_ttl=args.access_token_ttl,
        clients=clients,
        state_file=args.state,
    )
    if args.existing_books:
        from qbo_sandbox.books import seed_existing_books

        seed_existing_books(sandbox)
    server = SandboxServer(args.host, args.port, sandbox=sandbox, quiet=not args.verbose)

    def ready(server: SandboxServer) -> None:
        print(f"QuickBooks Online sandbox on {server.base_url}/")
        print(f"  discovery URL    : {server.discovery_url}")
        print(f"  API              : {server.api_base_url}/{{realmId}}/{{entity}}")
        print(f"  python-quickbooks: QuickBooks.api_url_v3 = sandbox_api_url_v3 = "
              f"{server.api_url_v3!r}")
        print(f"  demo realm       : {DEMO_REALM_ID}")
        print(f"  OAuth client     : {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(on_ready=ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())

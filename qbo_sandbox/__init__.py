"""A local emulator of the QuickBooks Online Accounting API v3 and Intuit OAuth 2.0.

See ``qbo_sandbox/README.md``. Quick use::

    from qbo_sandbox import SandboxServer
    server = SandboxServer().start()
    server.discovery_url   # AuthClient(..., environment=server.discovery_url)
    server.api_url_v3      # QuickBooks.api_url_v3 = QuickBooks.sandbox_api_url_v3 = ... ({base}/v3)
    server.api_base_url    # {base}/v3/company (the API is at {api_base_url}/{realmId}/...)
    server.sandbox         # state and test hooks (inject_fault, advance_time, ...)
    server.stop()
"""

from .app import create_sandbox_app
from .demo_company import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEMO_COMPANY_NAME,
    DEMO_REALM_ID,
)
from .faults import QBOFault
from .server import SandboxServer
from .state import FAULT_KINDS, ApiResponse, OAuthClient, OAuthError, Realm, Sandbox

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEMO_COMPANY_NAME",
    "DEMO_REALM_ID",
    "FAULT_KINDS",
    "ApiResponse",
    "OAuthClient",
    "OAuthError",
    "QBOFault",
    "Realm",
    "Sandbox",
    "SandboxServer",
    "create_sandbox_app",
]

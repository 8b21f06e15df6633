"""The sandbox's Flask app: Intuit OAuth 2.0, the Accounting API v3, test hooks, a status page.

Routes (``{base}`` is wherever the app is served):

* ``GET  /.well-known/openid_configuration`` -- discovery document (``AuthClient`` reads it)
* ``GET|POST /connect/oauth2`` -- authorize page; the POST redirects with code/state/realmId
* ``POST /oauth2/v1/tokens/bearer`` -- token endpoint; ``POST /oauth2/v1/tokens/revoke``
* ``GET  /v1/openid_connect/userinfo``, ``GET /oauth2/v1/keys`` (empty key set)
* ``GET|POST /v3/company/{realmId}/...`` -- the API
* ``/_sandbox/...`` -- test hooks (see README.md); ``GET /`` -- what is "in QuickBooks"
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
from urllib.parse import urlencode

from flask import Flask, Response, redirect, render_template_string, request

from . import demo_company, entities
from .state import KNOWN_SCOPES, ApiResponse, OAuthError, Sandbox, grants_company_access, scope_set

DISCOVERY_PATH = "/.well-known/openid_configuration"
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/oauth2/v1/tokens/revoke"
USERINFO_PATH = "/v1/openid_connect/userinfo"
JWKS_PATH = "/oauth2/v1/keys"
API_PREFIX = "/v3/company"

DROP_KEY = "qbo_sandbox.drop_connection"


class _DropConnectionMiddleware:
    """Turns a response marked in the environ into a closed connection with no answer.

    werkzeug's server treats a ``ConnectionError`` from the app as a dropped connection:
    nothing is written and the socket is closed, so the client sees the connection end
    without a response (requests raises ``ConnectionError``).
    """

    def __init__(self, app):  # type: ignore[no-untyped-def]
        self.app = app

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        result = self.app(environ, start_response)
        if environ.get(DROP_KEY):
            if hasattr(result, "close"):
                result.close()
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionAbortedError("qbo_sandbox: connection dropped on purpose")
        return result


def _json(body: object, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _base_url() -> str:
    return request.url_root.rstrip("/")  # includes a mount prefix (SCRIPT_NAME)


AUTHORIZE_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect {{ company }}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}
main{max-width:28rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.3rem}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}
.note{color:#555;font-size:.9rem}
</style></head><body><main>
<p class="note">QuickBooks Online sandbox (local emulator)</p>
<h1>Connect {{ company }}</h1>
<p><strong>{{ client_id }}</strong> wants to access your QuickBooks company data
({{ scope or "no scope" }}).</p>
<form method="post" action="{{ action }}">
  <label for="realmId">Company</label>
  <select id="realmId" name="realmId">
  {% for realm in realms %}
    <option value="{{ realm.realm_id }}" {% if realm.realm_id == selected %}selected{% endif %}>
      {{ realm.company_name }} ({{ realm.realm_id }})</option>
  {% endfor %}
  </select>
  <p>
  <button type="submit" name="decision" value="allow">Connect</button>
  <button type="submit" name="decision" value="deny">Cancel</button>
  </p>
</form>
</main></body></html>
"""

ERROR_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Authorization error</title></head>
<body><main><h1>Authorization error</h1><p>{{ error }}: {{ description }}</p></main>
</body></html>
"""

INDEX_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QuickBooks Online sandbox</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.4rem 0 1.2rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;
font-size:.9rem}
th{background:#eef1f4}td.num{text-align:right}
.lines{margin:0}.lines td,.lines th{font-size:.8rem}
.inactive{color:#999}h2{margin-top:2rem;border-bottom:2px solid #2ca01c}
.scroll{overflow-x:auto;max-width:100%}
.pager{display:flex;flex-wrap:wrap;gap:.5rem;justify-content:space-between;margin:0 0 1.2rem}
.pager a{display:inline-flex;align-items:center;min-height:44px;min-width:44px;
padding:0 1rem;border:1px solid #2ca01c;border-radius:4px;color:#1a6e10;text-decoration:none}
.pager a[rel="next"]:only-child{margin-left:auto}
</style></head><body><main>
{% macro pager(p) %}{% if p.prev or p.next %}<nav class="pager" aria-label="{{ p.label }} pages">
{% if p.prev %}<a class="button" rel="prev" href="{{ p.prev }}">Previous</a>{% endif %}
{% if p.next %}<a class="button" rel="next" href="{{ p.next }}">Next</a>{% endif %}
</nav>{% endif %}{% endmacro %}
<h1>QuickBooks Online sandbox</h1>
<p>Read-only view of what the emulator holds. API base: <code>{{ api_base }}</code></p>
{% for r in realms %}
<h2>{{ r.company }} <small>(realm {{ r.realm_id }})</small></h2>
<p>{{ r.counters.requests }} API requests, {{ r.counters.writes }} writes,
{{ r.counters.purchase_orders }} purchase orders.</p>
<h3>Purchase orders</h3>
{% if r.purchase_orders.rows %}
<div class="scroll"><table class="pos">
<tr><th>Id</th><th>SyncToken</th><th>DocNumber</th><th>Vendor</th>
<th>TxnDate</th><th>Status</th><th>TotalAmt</th><th>PrivateNote</th><th>Lines</th></tr>
{% for po in r.purchase_orders.rows %}
<tr id="po-{{ po.Id }}"><td>{{ po.Id }}</td><td>{{ po.SyncToken }}</td>
<td>{{ po.DocNumber or "" }}</td><td>{{ ref(po.VendorRef) }}</td><td>{{ po.TxnDate }}</td>
<td>{{ po.POStatus }}</td><td class="num">{{ "%.2f"|format(po.TotalAmt) }}</td>
<td>{{ po.PrivateNote or "" }}</td>
<td><table class="lines"><tr><th>Id</th><th>#</th><th>Description</th><th>Amount</th>
<th>Item / Account</th><th>Customer / job</th><th>Qty</th><th>UnitPrice</th></tr>
{% for line in po.Line %}{% set d = line[line.DetailType] or {} %}
<tr><td>{{ line.Id }}</td><td>{{ line.LineNum }}</td><td>{{ line.Description or "" }}</td>
<td class="num">{{ "%.2f"|format(line.Amount) }}</td>
<td>{{ ref(d.ItemRef or d.AccountRef) }}</td><td>{{ ref(d.CustomerRef) }}</td>
<td>{{ d.Qty if d.Qty is defined else "" }}</td>
<td>{{ d.UnitPrice if d.UnitPrice is defined else "" }}</td></tr>
{% endfor %}</table></td></tr>
{% endfor %}</table></div>
{{ pager(r.purchase_orders) }}
{% else %}<p>No purchase orders.</p>{% endif %}
<h3>Vendors</h3>
<div class="scroll"><table><tr><th>Id</th><th>DisplayName</th><th>Active</th></tr>
{% for v in r.vendors.rows %}<tr class="{{ '' if v.Active else 'inactive' }}"><td>{{ v.Id }}</td>
<td>{{ v.DisplayName }}</td><td>{{ v.Active }}</td></tr>{% endfor %}</table></div>
{{ pager(r.vendors) }}
<h3>Customers and jobs</h3>
<div class="scroll"><table>
<tr><th>Id</th><th>FullyQualifiedName</th><th>Job</th><th>Parent</th><th>Active</th></tr>
{% for c in r.customers.rows %}<tr class="{{ '' if c.Active else 'inactive' }}"><td>{{ c.Id }}</td>
<td>{{ c.FullyQualifiedName }}</td><td>{{ c.Job }}</td>
<td>{{ c.ParentRef.value if c.ParentRef else "" }}</td><td>{{ c.Active }}</td></tr>
{% endfor %}</table></div>
{{ pager(r.customers) }}
<h3>Items</h3>
<div class="scroll"><table>
<tr><th>Id</th><th>Name</th><th>Type</th><th>ExpenseAccountRef</th><th>Active</th></tr>
{% for i in r.item_list.rows %}<tr class="{{ '' if i.Active else 'inactive' }}"><td>{{ i.Id }}</td>
<td>{{ i.Name }}</td><td>{{ i.Type }}</td><td>{{ ref(i.ExpenseAccountRef) }}</td>
<td>{{ i.Active }}</td></tr>{% endfor %}</table></div>
{{ pager(r.item_list) }}
<h3>Accounts</h3>
<div class="scroll"><table><tr><th>Id</th><th>Name</th><th>AccountType</th><th>Active</th></tr>
{% for a in r.accounts.rows %}<tr class="{{ '' if a.Active else 'inactive' }}"><td>{{ a.Id }}</td>
<td>{{ a.Name }}</td><td>{{ a.AccountType }}</td><td>{{ a.Active }}</td></tr>
{% endfor %}</table></div>
{{ pager(r.accounts) }}
<h3>Classes</h3>
<div class="scroll"><table><tr><th>Id</th><th>Name</th><th>Active</th></tr>
{% for c in r.classes.rows %}
<tr><td>{{ c.Id }}</td><td>{{ c.Name }}</td><td>{{ c.Active }}</td></tr>
{% endfor %}</table></div>
{{ pager(r.classes) }}
{% endfor %}
</main></body></html>
"""


PAGE_SIZE = 50


def _page(rows: list, param: str, label: str) -> dict:
    """One page of ``rows``: the page number is the query argument ``param`` (a bad or missing
    one is the first page, one past the end the last); Previous / Next are links to this page
    with every other argument kept, so each list on the page turns its own pages."""
    last = max(1, -(-len(rows) // PAGE_SIZE))
    try:
        number = min(max(1, int(request.args.get(param, "1"))), last)
    except ValueError:
        number = 1

    def link(to: int) -> str:
        args = request.args.to_dict()
        args[param] = str(to)
        if to == 1:
            del args[param]
        return "?" + urlencode(args)

    start = (number - 1) * PAGE_SIZE
    return {"rows": rows[start:start + PAGE_SIZE], "label": label,
            "prev": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < last else None}


def _ref_text(ref: object) -> str:
    if not isinstance(ref, dict) or not ref.get("value"):
        return ""
    name = ref.get("name")
    return f"{name} ({ref['value']})" if name else str(ref["value"])


def create_sandbox_app(sandbox: Sandbox | None = None, **sandbox_kwargs: object) -> Flask:
    """A Flask app serving ``sandbox`` (a new ``Sandbox(**sandbox_kwargs)`` if None)."""
    sb = sandbox if sandbox is not None else Sandbox(**sandbox_kwargs)  # type: ignore[arg-type]
    app = Flask("qbo_sandbox")
    app.extensions["qbo_sandbox"] = sb
    app.wsgi_app = _DropConnectionMiddleware(app.wsgi_app)  # type: ignore[method-assign]

    def api_response(result: ApiResponse) -> Response:
        if result.drop:
            request.environ[DROP_KEY] = True
            return Response(b"", status=500)
        response = Response(result.text, status=result.status, mimetype="application/json")
        for key, value in result.headers.items():
            response.headers[key] = value
        response.headers["intuit_tid"] = secrets.token_hex(12)
        return response

    # ---------------------------------------------------------------- OAuth / OpenID
    @app.get(DISCOVERY_PATH)
    @app.get(DISCOVERY_PATH + "/")
    @app.get("/.well-known/openid_sandbox_configuration")
    @app.get("/.well-known/openid_sandbox_configuration/")
    def discovery() -> Response:
        base = _base_url()
        return _json({
            "issuer": base + "/op/v1",
            "authorization_endpoint": base + AUTHORIZE_PATH,
            "token_endpoint": base + TOKEN_PATH,
            "userinfo_endpoint": base + USERINFO_PATH,
            "revocation_endpoint": base + REVOKE_PATH,
            "jwks_uri": base + JWKS_PATH,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone",
                                 "com.intuit.quickbooks.accounting",
                                 "com.intuit.quickbooks.payment"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        })

    @app.route(AUTHORIZE_PATH, methods=["GET", "POST"])
    def authorize() -> Response:
        params = request.args.to_dict()
        if request.method == "POST":
            params.update(request.form.to_dict())
        client_id = params.get("client_id")
        redirect_uri = params.get("redirect_uri")
        try:
            sb.check_authorize(client_id, redirect_uri)
        except OAuthError as exc:
            html = render_template_string(ERROR_TEMPLATE, error=exc.error,
                                          description=exc.description)
            return Response(html, status=400, mimetype="text/html")
        state = params.get("state")

        def back(**query: str) -> Response:
            if state is not None:
                query["state"] = state
            sep = "&" if "?" in redirect_uri else "?"  # type: ignore[operator]
            return redirect(f"{redirect_uri}{sep}{urlencode(query)}", code=302)

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        scope = params.get("scope", "")
        scopes = scope_set(scope)
        if not scopes or scopes - KNOWN_SCOPES:  # Intuit: an unknown scope fails the whole request
            return back(error="invalid_scope")
        with sb.lock:
            realms = list(sb.realms.values())
        selected = params.get("realmId") or (
            demo_company.DEMO_REALM_ID if demo_company.DEMO_REALM_ID in sb.realms
            else realms[0].realm_id
        )
        if request.method == "GET":
            company = sb.realms[selected].company_name if selected in sb.realms else ""
            html = render_template_string(
                AUTHORIZE_TEMPLATE, company=company, client_id=client_id, scope=scope,
                realms=realms, selected=selected, action=request.full_path,
            )
            return Response(html, mimetype="text/html")
        if params.get("decision", "allow") != "allow":
            return back(error="access_denied")
        try:
            code = sb.issue_code(client_id, redirect_uri, selected, scope)  # type: ignore[arg-type]
        except OAuthError as exc:
            return back(error=exc.error)
        if not grants_company_access(scope):  # sign-in only: no company, no realmId
            return back(code=code)
        return back(code=code, realmId=selected)

    oauth_headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}

    @app.post(TOKEN_PATH)
    def token() -> Response:
        injected = sb.take_oauth_fault()
        if injected == "drop":
            request.environ[DROP_KEY] = True
            return Response(b"", status=500)
        if injected is not None:  # Intuit's side is down: nothing processed, nothing rotated
            return _json({"error": "server_error",
                          "error_description": "The service is temporarily unavailable."},
                         int(injected), {**oauth_headers, "intuit_tid": secrets.token_hex(12)})
        try:
            body = sb.token(request.headers.get("Authorization"), request.form.to_dict())
        except OAuthError as exc:
            return _json(exc.body(), exc.status, {**oauth_headers,
                                                  "intuit_tid": secrets.token_hex(12)})
        return _json(body, 200, {**oauth_headers, "intuit_tid": secrets.token_hex(12)})

    @app.post(REVOKE_PATH)
    def revoke() -> Response:
        data = request.get_json(silent=True) if request.is_json else None
        token_value = (data or {}).get("token") if isinstance(data, dict) else None
        token_value = token_value or request.form.get("token")
        try:
            sb.revoke(request.headers.get("Authorization"), token_value)
        except OAuthError as exc:
            return _json(exc.body(), exc.status)
        return Response(b"", status=200)

    @app.get(USERINFO_PATH)
    def userinfo() -> Response:
        info = sb.user_info(request.headers.get("Authorization"))
        if info is None:
            return _json({"error": "invalid_token"}, 401)
        if not info:  # the token was not issued with the openid scope
            return _json({"error": "insufficient_scope"}, 403)
        return _json(info)

    @app.get(JWKS_PATH)
    def jwks() -> Response:
        return _json({"keys": []})

    # ------------------------------------------------------------------------ the API
    @app.route(API_PREFIX + "/<realm_id>/<path:path>", methods=["GET", "POST"])
    def api(realm_id: str, path: str) -> Response:
        body = request.get_data(as_text=True) if request.method == "POST" else ""
        result = sb.handle_api(
            request.method, realm_id, path, request.args.to_dict(), body,
            request.headers.get("Authorization"),
        )
        return api_response(result)

    # -------------------------------------------------------------------------- hooks
    def hook_body() -> dict:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @app.errorhandler(LookupError)
    def lookup_error(exc: LookupError) -> Response:
        return _json({"error": "not_found", "detail": str(exc)}, 404)

    @app.errorhandler(ValueError)
    def value_error(exc: ValueError) -> Response:
        return _json({"error": "bad_request", "detail": str(exc)}, 400)

    @app.post("/_sandbox/reset")
    def hook_reset() -> Response:
        sb.reset()
        return _json({"ok": True})

    @app.post("/_sandbox/time/advance")
    def hook_advance() -> Response:
        sb.advance_time(float(hook_body().get("seconds", 0)))
        return _json({"ok": True, "now": sb.now()})

    @app.post("/_sandbox/config")
    def hook_config() -> Response:
        data = hook_body()
        sb.configure(**{k: data[k] for k in ("rate_limit_per_minute", "concurrency_limit",
                                             "access_token_ttl", "refresh_token_ttl",
                                             "replay_faults")
                        if k in data})
        with sb.lock:
            return _json({"rate_limit_per_minute": sb.rate_limit_per_minute,
                          "concurrency_limit": sb.concurrency_limit,
                          "access_token_ttl": sb.access_token_ttl,
                          "refresh_token_ttl": sb.refresh_token_ttl,
                          "replay_faults": sb.replay_faults})

    @app.post("/_sandbox/clients")
    def hook_clients() -> Response:
        data = hook_body()
        if not data.get("client_id") or not data.get("client_secret"):
            raise ValueError("client_id and client_secret are required")
        sb.register_client(data["client_id"], data["client_secret"], data.get("redirect_uris"))
        return _json({"ok": True})

    @app.post("/_sandbox/realms")
    def hook_add_realm() -> Response:
        data = hook_body()
        if not data.get("realm_id") or not data.get("company_name"):
            raise ValueError("realm_id and company_name are required")
        realm = sb.add_company(str(data["realm_id"]), str(data["company_name"]))
        return _json({"realm_id": realm.realm_id, "company_name": realm.company_name})

    @app.post("/_sandbox/realms/<realm_id>/faults")
    def hook_fault(realm_id: str) -> Response:
        data = hook_body()
        sb.inject_fault(realm_id, str(data.get("kind", "")), int(data.get("count", 1)))
        return _json({"pending": sb.pending_faults(realm_id)})

    @app.post("/_sandbox/oauth/faults")
    def hook_oauth_fault() -> Response:
        data = hook_body()
        sb.inject_oauth_fault(str(data.get("kind", "")), int(data.get("count", 1)))
        return _json({"pending": sb.pending_oauth_faults()})

    @app.delete("/_sandbox/realms/<realm_id>/faults")
    def hook_clear_faults(realm_id: str) -> Response:
        sb.clear_faults(realm_id)
        return _json({"pending": []})

    @app.post("/_sandbox/realms/<realm_id>/expire-tokens")
    def hook_expire(realm_id: str) -> Response:
        sb.realm(realm_id)
        return _json({"expired": sb.expire_access_tokens(realm_id)})

    @app.post("/_sandbox/realms/<realm_id>/purchaseorders/<po_id>/edit")
    def hook_edit_po(realm_id: str, po_id: str) -> Response:
        data = hook_body()
        kwargs: dict = {k: data.pop(k) for k in ("lines", "add_lines", "remove_line_ids")
                        if k in data}
        for field, keyword in (("PrivateNote", "private_note"), ("Memo", "memo"),
                               ("DocNumber", "doc_number")):
            if field in data:
                kwargs[keyword] = data.pop(field)
        po = sb.edit_purchase_order(realm_id, po_id, **kwargs, **data)
        return _json({"PurchaseOrder": po})

    @app.post("/_sandbox/realms/<realm_id>/purchaseorders/<po_id>/renumber")
    def hook_renumber_po(realm_id: str, po_id: str) -> Response:
        doc_number = hook_body().get("DocNumber")
        if not doc_number:
            raise ValueError("DocNumber is required")
        return _json({"PurchaseOrder": sb.renumber_purchase_order(realm_id, po_id,
                                                                   str(doc_number))})

    @app.post("/_sandbox/realms/<realm_id>/purchaseorders/<po_id>/lines")
    def hook_add_po_line(realm_id: str, po_id: str) -> Response:
        data = hook_body()
        if "DetailType" in data:  # a line as the API takes it
            po = sb.edit_purchase_order(realm_id, po_id, add_lines=[data])
        else:
            if "Amount" not in data:
                raise ValueError("Amount is required")
            po = sb.add_purchase_order_line(
                realm_id, po_id, data["Amount"], description=data.get("Description"),
                item_id=data.get("item_id"), account_id=data.get("account_id"),
                customer_id=data.get("customer_id"), billable=bool(data.get("billable")))
        return _json({"PurchaseOrder": po})

    @app.delete("/_sandbox/realms/<realm_id>/purchaseorders/<po_id>")
    def hook_delete_po(realm_id: str, po_id: str) -> Response:
        sb.delete_purchase_order(realm_id, po_id)
        return _json({"deleted": po_id})

    @app.post("/_sandbox/realms/<realm_id>/pause")
    def hook_pause(realm_id: str) -> Response:
        sb.pause_api(realm_id)
        return _json({"paused": True, "in_flight": sb.in_flight(realm_id)})

    @app.post("/_sandbox/realms/<realm_id>/resume")
    def hook_resume(realm_id: str) -> Response:
        sb.resume_api(realm_id)
        return _json({"paused": False, "in_flight": sb.in_flight(realm_id)})

    @app.post("/_sandbox/realms/<realm_id>/delay")
    def hook_delay(realm_id: str) -> Response:
        seconds = float(hook_body().get("seconds", 0))
        sb.set_api_delay(realm_id, seconds)
        return _json({"seconds": seconds})

    @app.get("/_sandbox/requests")
    def hook_request_log() -> Response:
        since = int(request.args.get("since", 0))
        return _json({"requests": sb.request_log(request.args.get("realm"), since=since)})

    @app.delete("/_sandbox/requests")
    def hook_clear_request_log() -> Response:
        sb.clear_request_log()
        return _json({"requests": []})

    @app.get("/_sandbox/realms/<realm_id>/requestids")
    def hook_request_ids(realm_id: str) -> Response:
        return _json({"requestids": sb.request_ids_seen(realm_id)})

    @app.post("/_sandbox/realms/<realm_id>/<entity>/<obj_id>/active")
    def hook_active(realm_id: str, entity: str, obj_id: str) -> Response:
        obj = sb.set_active(realm_id, entity, obj_id, bool(hook_body().get("active", True)))
        return _json(obj)

    @app.post("/_sandbox/realms/<realm_id>/settings")
    def hook_settings(realm_id: str) -> Response:
        data = hook_body()
        if "custom_transaction_numbers" in data:
            sb.set_custom_transaction_numbers(realm_id, bool(data["custom_transaction_numbers"]))
        if "duplicate_doc_number_check" in data:
            sb.set_duplicate_doc_number_check(realm_id, bool(data["duplicate_doc_number_check"]))
        return _json(dict(sb.realm(realm_id).settings))

    @app.post("/_sandbox/webhooks")
    def hook_webhooks() -> Response:
        data = hook_body()
        sb.configure_webhooks(data.get("url"), str(data.get("verifier_token", "")),
                              str(data.get("format", "cloudevents")),
                              str(data.get("deliver", "manual")))
        return _json({"ok": True})

    @app.post("/_sandbox/webhooks/deliver")
    def hook_deliver_webhooks() -> Response:
        return _json({"deliveries": sb.deliver_webhooks()})

    @app.get("/_sandbox/webhooks")
    def hook_webhook_log() -> Response:
        return _json({"pending": sb.pending_webhook_events(),
                      "deliveries": sb.webhook_deliveries()})

    @app.get("/_sandbox/realms/<realm_id>/counters")
    def hook_counters(realm_id: str) -> Response:
        return _json(sb.counters(realm_id))

    @app.get("/_sandbox/realms/<realm_id>/entities/<entity>")
    def hook_list(realm_id: str, entity: str) -> Response:
        name = entities.URL_NAMES.get(entity.lower())
        if name is None:
            raise LookupError(f"unknown entity {entity}")
        return _json({name: sb.list_objects(realm_id, name)})

    # ----------------------------------------------------------------------- the page
    @app.get("/")
    def index() -> Response:
        with sb.lock:
            realms = []
            for realm in sb.realms.values():
                def objs(entity: str, realm=realm) -> list[dict]:
                    return sb.list_objects(realm.realm_id, entity)
                customers = sorted(objs("Customer"), key=lambda c: c["FullyQualifiedName"])
                lists = {"purchase_orders": ("Purchase orders", objs("PurchaseOrder")),
                         "vendors": ("Vendors", objs("Vendor")),
                         "customers": ("Customers and jobs", customers),
                         "item_list": ("Items", objs("Item")),
                         "accounts": ("Accounts", objs("Account")),
                         "classes": ("Classes", objs("Class"))}
                realms.append({
                    "realm_id": realm.realm_id,
                    "company": realm.company_info().get("CompanyName", realm.company_name),
                    "counters": sb.counters(realm.realm_id),
                    **{key: _page(rows, f"{key}-{realm.realm_id}", label)
                       for key, (label, rows) in lists.items()},
                })
        html = render_template_string(INDEX_TEMPLATE, realms=realms, ref=_ref_text,
                                      api_base=_base_url() + API_PREFIX)
        return Response(html, mimetype="text/html")

    return app

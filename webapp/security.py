"""Who may write: the optional token, CSRF protection on every form, the actor of the audit trail.

- CSRF: double submit. Every page sets a random `abkit_csrf` cookie (SameSite=Strict) and puts
  the same value into each form (and into htmx requests as a header); a POST whose field or
  header does not match the cookie is refused.
- Token: when set, a write needs it — as `Authorization: Bearer T` (a script; no CSRF value
  needed, since no browser can forge that header cross-site), or after signing in on
  /login, which stores only a digest of it in an HttpOnly, SameSite=Strict cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request

CSRF_COOKIE = "abkit_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
AUTH_COOKIE = "abkit_auth"


def csrf_token(request: Request) -> str:
    """The request's CSRF value (new when the browser has none yet)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if len(existing) == 43 and existing.replace("-", "").replace("_", "").isalnum():
        return existing
    return getattr(request.state, "new_csrf", None) or _new(request)


def _new(request: Request) -> str:
    request.state.new_csrf = secrets.token_urlsafe(32)
    return request.state.new_csrf


def csrf_ok(request: Request, submitted: object) -> bool:
    """The form's (or header's) CSRF value equals the cookie's; an uploaded file never does."""
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = (submitted if isinstance(submitted, str) else None) or request.headers.get(CSRF_HEADER)
    return bool(cookie and sent and hmac.compare_digest(cookie, sent))


def token_digest(token: str) -> str:
    return hashlib.sha256(("abkit-ui:" + token).encode()).hexdigest()


def authorized(request: Request, token: str | None) -> bool:
    """True when no token is configured, or the request carries it."""
    if not token:
        return True
    if bearer_ok(request, token):
        return True
    cookie = request.cookies.get(AUTH_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, token_digest(token))


def bearer_ok(request: Request, token: str | None) -> bool:
    """The request carries ``Authorization: Bearer <token>`` (scripts)."""
    header = request.headers.get("authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token or "")

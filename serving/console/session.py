"""The console's sign-in session: a signed cookie naming an operator key, never the key itself.

The cookie holds `<key id>.<expiry>.<HMAC-SHA256>`, signed with a secret kept in the home
(`console-session.key`, created once, mode 0600, shared by every worker). Each page checks the
signature and the expiry, then that the key is still live and an operator's: revoking the key
ends its sessions at the next page. The cookie is HttpOnly, SameSite=Strict and, behind HTTPS,
Secure. The only POSTs (sign-in, sign-out) carry a CSRF token: sign-in a double-submit token,
sign-out an HMAC of the session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import cache
from pathlib import Path

COOKIE = "precredit_console"
CSRF_COOKIE = "precredit_console_csrf"
LIFETIME_SECONDS = 8 * 3600
SECRET_FILE = "console-session.key"  # noqa: S105 (a file name, not a secret)


@cache
def secret(home: Path) -> bytes:
    """The home's signing secret, created on first use (atomically: workers race for it)."""
    path = home / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    value = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as file:
        file.write(value.hex())
    return value


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def sign(key: bytes, key_id: str, now: float) -> str:
    """A session cookie value for `key_id`, valid for `LIFETIME_SECONDS` from `now`."""
    body = f"{key_id}.{int(now) + LIFETIME_SECONDS}"
    return f"{body}.{_mac(key, body)}"


def verify(key: bytes, value: str | None, now: float) -> str | None:
    """The key id of a well-signed, unexpired cookie value; None otherwise."""
    parts = (value or "").split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    key_id, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(key, f"{key_id}.{expires}")):
        return None
    return key_id if int(expires) > now else None


def new_token() -> str:
    """A random token for the sign-in form's double submit."""
    return secrets.token_urlsafe(24)


def csrf_for(key: bytes, session_value: str) -> str:
    """The sign-out form's token: bound to this session."""
    return _mac(key, f"csrf:{session_value}")[:32]


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time equality of two present tokens."""
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))

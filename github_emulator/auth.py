"""GitHub App authentication: JWTs signed with the App's key, installation tokens, and their scopes.

The JWT checks and token lifetimes run on the wall clock, not the emulator clock: clients sign JWTs
with their own wall clock, and PyGithub decides when to refresh a token by comparing ``expires_at``
with it, so moving the emulator clock must not invalidate credentials. ``expire_all`` is the way to
test expiry.
"""

from __future__ import annotations

import base64
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_LIFETIME = 3600
JWT_MAX_LIFETIME = 600
LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}

BAD_CREDENTIALS = "Bad credentials"
JWT_UNDECODABLE = "A JSON web token could not be decoded"
JWT_EXP_INVALID = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
    "the assertion expires"
)
JWT_EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"
JWT_IAT_INVALID = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
JWT_ISS_INVALID = "'Issuer' claim ('iss') must be an Integer"
JWT_APP_UNKNOWN = "Integration not found"


def ensure_app_key(path: Path) -> None:
    """Create the App's RSA key once; it survives resets and restarts so clients keep working."""
    if path.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    tmp.replace(path)


@dataclass
class Principal:
    """Who is calling: ``app`` (a JWT), ``installation`` (a token) or ``anonymous``."""

    kind: str
    installation_id: int | None = None
    account: str | None = None
    permissions: dict[str, str] = field(default_factory=dict)
    repository_ids: frozenset[int] | None = None
    token: str | None = None

    def can(self, permission: str, level: str = "read") -> bool:
        if self.kind != "installation":
            return False
        return LEVELS.get(self.permissions.get(permission, "none"), 0) >= LEVELS[level]

    @property
    def bucket(self) -> str:
        if self.kind == "installation":
            return f"installation:{self.installation_id}"
        return "app" if self.kind == "app" else "anonymous"


class AuthError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Authority:
    """Verifies credentials and mints installation tokens (kept in memory only, like GitHub's)."""

    def __init__(self, private_key_path: Path, app_id: int, client_id: str) -> None:
        key = serialization.load_pem_private_key(private_key_path.read_bytes(), password=None)
        self.public_key = key.public_key()
        self.app_id = app_id
        self.client_id = client_id
        self.lock = threading.Lock()
        self.tokens: dict[str, dict[str, Any]] = {}

    # ---- reading the Authorization header ----------------------------------------------------------
    def identify(self, header: str | None, installations: dict[int, dict[str, Any]]) -> Principal:
        if not header:
            return Principal("anonymous")
        scheme, _, credential = header.strip().partition(" ")
        scheme = scheme.lower()
        credential = credential.strip()
        if scheme == "basic":
            try:
                user, _, credential = base64.b64decode(credential).decode().partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise AuthError(BAD_CREDENTIALS) from exc
            if credential in ("", "x-oauth-basic"):
                # GitHub also takes the token as the user name, with an empty or `x-oauth-basic`
                # password ("Other authentication methods", `curl -u TOKEN:x-oauth-basic`).
                credential = user
        elif scheme not in ("token", "bearer"):
            raise AuthError(BAD_CREDENTIALS)
        if credential.count(".") == 2 and credential.startswith("ey"):
            self.verify_jwt(credential)
            return Principal("app")
        return self.token_principal(credential, installations)

    def verify_jwt(self, token: str) -> None:
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(JWT_UNDECODABLE) from exc
        now = int(time.time())
        iat, exp, iss = claims.get("iat"), claims.get("exp"), claims.get("iss")
        if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > now + 60:
            raise AuthError(JWT_IAT_INVALID)
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
            raise AuthError(JWT_EXP_INVALID)
        if exp > now + JWT_MAX_LIFETIME:
            raise AuthError(JWT_EXP_TOO_FAR)
        if str(iss) not in (str(self.app_id), self.client_id):
            if not str(iss).isdigit() and not str(iss).startswith("Iv"):
                raise AuthError(JWT_ISS_INVALID)
            raise AuthError(JWT_APP_UNKNOWN)

    def token_principal(self, token: str, installations: dict[int, dict[str, Any]]) -> Principal:
        with self.lock:
            record = self.tokens.get(token)
        if record is None or record["expires"] <= time.time():
            raise AuthError(BAD_CREDENTIALS)
        inst = installations.get(record["installation_id"])
        if inst is None:
            raise AuthError(BAD_CREDENTIALS)
        return Principal(
            "installation",
            installation_id=inst["id"],
            account=inst["account"],
            permissions=dict(record["permissions"]),
            repository_ids=record["repository_ids"],
            token=token,
        )

    # ---- minting -----------------------------------------------------------------------------------
    def mint(
        self, installation_id: int, permissions: dict[str, str], repository_ids: frozenset[int] | None
    ) -> tuple[str, float]:
        alphabet = string.ascii_letters + string.digits
        token = "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))
        expires = time.time() + TOKEN_LIFETIME
        with self.lock:
            now = time.time()
            self.tokens = {t: r for t, r in self.tokens.items() if r["expires"] > now}
            self.tokens[token] = {
                "installation_id": installation_id,
                "permissions": dict(permissions),
                "repository_ids": repository_ids,
                "expires": expires,
            }
        return token, expires

    def expire_all(self) -> int:
        with self.lock:
            count = len(self.tokens)
            for record in self.tokens.values():
                record["expires"] = 0.0
        return count


def narrow_permissions(granted: dict[str, str], requested: dict[str, Any] | None) -> dict[str, str] | None:
    """The requested subset of ``granted``, or None when something asked for is not granted."""
    if not requested:
        return dict(granted)
    out = {}
    for name, level in requested.items():
        if level not in LEVELS or LEVELS[level] > LEVELS.get(granted.get(name, "none"), 0):
            return None
        out[name] = level
    return out

"""A FastAPI API protected by Hyperion Auth access tokens (verified by hyperion_verify.py).

    HYPERION_ISSUER=https://auth.example.com \\
    HYPERION_AUDIENCE=https://notes.example.com/api \\
    uvicorn app:app --port 8000

Requires FastAPI besides PyJWT and cryptography (Debian: python3-fastapi python3-uvicorn).
"""

from __future__ import annotations

import os
from typing import Any, Callable

from fastapi import Depends, FastAPI, Header, HTTPException

from hyperion_verify import HyperionVerifier, InsufficientScopeError, TokenError


def _quoted(text: str) -> str:
    """A quoted-string for WWW-Authenticate: no quote or backslash can end it early."""
    return '"' + text.replace("\\", "").replace('"', "'") + '"'


def bearer_claims(verifier: HyperionVerifier, *scopes: str) -> Callable[..., dict[str, Any]]:
    """
    A dependency answering with the token's claims; 401 (RFC 6750 §3: WWW-Authenticate Bearer,
    `error="invalid_token"` when a token was sent) or 403 `insufficient_scope` naming the
    scopes the route needs. A plain `def`: FastAPI runs it in its thread pool, where the
    (cached) JWKS fetch may block.
    """

    def dependency(authorization: str | None = Header(default=None)) -> dict[str, Any]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            # No credentials: the challenge alone, without an error code (RFC 6750 §3.1).
            raise HTTPException(
                status_code=401,
                detail="A bearer token is required",
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        try:
            return verifier.verify(token.strip(), scopes)
        except TokenError as error:
            raise HTTPException(
                status_code=401,
                detail=str(error),
                headers={
                    "WWW-Authenticate": 'Bearer realm="api", error="invalid_token", '
                    f"error_description={_quoted(str(error))}"
                },
            ) from error
        except InsufficientScopeError as error:
            raise HTTPException(
                status_code=403,
                detail=str(error),
                headers={
                    "WWW-Authenticate": 'Bearer realm="api", error="insufficient_scope", '
                    f"scope={_quoted(' '.join(scopes))}"
                },
            ) from error

    return dependency


def create_app(verifier: HyperionVerifier) -> FastAPI:
    app = FastAPI(title="Notes (an API behind Hyperion Auth)")
    can_read = bearer_claims(verifier, "notes:read")

    @app.get("/notes")
    def list_notes(claims: dict[str, Any] = Depends(can_read)) -> dict[str, Any]:
        # `sub` is the user; `act.sub`, when present, the agent acting for them (RFC 8693).
        return {
            "user": claims["sub"],
            "acting_client": (claims.get("act") or {}).get("sub"),
            "notes": [],
        }

    return app


# `uvicorn app:app` builds it from the environment; tests call create_app themselves.
app = (
    create_app(HyperionVerifier(os.environ["HYPERION_ISSUER"], os.environ["HYPERION_AUDIENCE"]))
    if "HYPERION_ISSUER" in os.environ and "HYPERION_AUDIENCE" in os.environ
    else None
)

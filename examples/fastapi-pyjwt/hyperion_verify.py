"""Verify Hyperion Auth access tokens in Python with PyJWT, offline, from the published JWKS.

No web framework is needed here (app.py puts it behind a FastAPI dependency). Requires
PyJWT >= 2.6 with `cryptography` (EdDSA, ES256 and RS256 keys): on Debian
`apt-get install python3-jwt python3-cryptography`, elsewhere `pip install "pyjwt[crypto]"`.

    verifier = HyperionVerifier(issuer="https://auth.example.com",
                                audience="https://notes.example.com/api")
    claims = verifier.verify(token, required_scopes=["notes:read"])

Checked: the signature by a key of the issuer's JWKS (its kid; the algorithm is the key's
own, so a token cannot choose a weaker one), `typ` at+jwt (RFC 9068: an ID token is not an
access token), `iss`, `aud`, `exp` (and `iat`, `sub` present), then the scopes. A token for
a registered protected API has that API's identifier as `aud`; tokens of the service's own
sign-in have JWT_AUDIENCE (default `hyperion-auth`). Revocation is not seen offline: a token
stays valid until it expires (minutes) unless you also follow GET /api/auth/revocations.

Run as a script to check one token:
    python3 hyperion_verify.py --issuer URL --audience AUD [--scope S ...] TOKEN
prints the claims as JSON (exit 0), or the reason on stderr (exit 1: invalid_token,
exit 2: insufficient_scope).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Iterable

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

# RFC 9068 §4: the `typ` header of a JWT access token (`application/` may be spelled out).
ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}


class TokenError(Exception):
    """Missing, malformed, badly signed, expired or for another audience: answer 401."""

    error = "invalid_token"


class InsufficientScopeError(Exception):
    """A valid token without a scope the route needs: answer 403."""

    error = "insufficient_scope"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"the token lacks the scope {' '.join(missing)}")
        self.missing = missing


def _algorithm_of(key: Any) -> str:
    """The one algorithm a key of the JWKS verifies with: the key decides, never the token."""
    if isinstance(key, Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return "ES256"
    if isinstance(key, RSAPublicKey):
        return "RS256"
    raise TokenError("the signing key is of a kind this verifier does not accept")


class HyperionVerifier:
    """Verifies access tokens of one issuer for one audience (your API)."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        leeway_seconds: int = 0,
        cache_seconds: int = 300,
    ) -> None:
        # The issuer exactly as it signs tokens: PUBLIC_URL, no trailing slash.
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.leeway = leeway_seconds
        # The key set is fetched once and kept `cache_seconds`; a token with a kid it does not
        # know makes it fetch again (keys rotate: `hyperion-auth keys rotate`).
        self._jwks = jwt.PyJWKClient(
            jwks_url or f"{self.issuer}/.well-known/jwks.json",
            cache_jwk_set=True,
            lifespan=cache_seconds,
        )

    def verify(self, token: str, required_scopes: Iterable[str] = ()) -> dict[str, Any]:
        """The token's claims, or TokenError / InsufficientScopeError."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenError("the token is not a JWT") from error
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise TokenError("the token is not an access token (typ at+jwt)")
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
        except (jwt.PyJWKClientError, jwt.PyJWTError) as error:
            raise TokenError("the token's signing key is not the issuer's") from error
        try:
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=[_algorithm_of(signing_key.key)],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenError("the token has expired") from error
        except jwt.InvalidAudienceError as error:
            raise TokenError("the token is for another audience") from error
        except jwt.PyJWTError as error:
            raise TokenError(f"the token is not valid: {error}") from error
        granted = set(str(claims.get("scope", "")).split())
        missing = [scope for scope in required_scopes if scope not in granted]
        if missing:
            raise InsufficientScopeError(missing)
        return claims


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Hyperion Auth access token.")
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--jwks-url")
    parser.add_argument("--scope", action="append", default=[], help="a scope it must hold")
    parser.add_argument("token")
    args = parser.parse_args(argv)
    verifier = HyperionVerifier(args.issuer, args.audience, jwks_url=args.jwks_url)
    try:
        claims = verifier.verify(args.token, args.scope)
    except TokenError as error:
        print(f"{error.error}: {error}", file=sys.stderr)
        return 1
    except InsufficientScopeError as error:
        print(f"{error.error}: {error}", file=sys.stderr)
        return 2
    print(json.dumps(claims, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

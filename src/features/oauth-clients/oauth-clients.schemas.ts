import { Type, type Static } from 'typebox';
import { Timestamp } from '../../lib/schemas.js';
import { CLIENT_GRANT_TYPES } from '../oidc/oidc.types.js';
import { RESOURCE_SCOPE_NAME } from '../resources/resources.schemas.js';

/** A client id chosen at registration: URL-safe unreserved characters (RFC 3986), 3 to 64. */
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9._~-]{3,64}$';
/**
 * Any client id the registry may hold: one chosen at registration, or the HTTPS URL of a
 * client's metadata document (checked further when it is fetched).
 */
const ANY_CLIENT_ID_PATTERN = '^(?:[A-Za-z0-9._~-]{3,64}|https://[!-~]{1,1992})$';
const ANY_CLIENT_ID = new RegExp(ANY_CLIENT_ID_PATTERN);

export function isClientId(text: string): boolean {
  return ANY_CLIENT_ID.test(text);
}

export const ClientId = Type.String({
  pattern: ANY_CLIENT_ID_PATTERN,
  description: 'A client id, or the URL of a metadata document (URL-encoded in a path)',
});

export const OAuthClientSchema = Type.Object({
  client_id: Type.String(),
  name: Type.String(),
  type: Type.Union([Type.Literal('confidential'), Type.Literal('public')]),
  redirect_uris: Type.Array(Type.String()),
  post_logout_redirect_uris: Type.Array(Type.String()),
  grant_types: Type.Array(Type.String()),
  scopes: Type.Array(Type.String()),
  first_party: Type.Boolean(),
  created_at: Timestamp,
  secret_rotated_at: Type.Union([Timestamp, Type.Null()]),
  registration: Type.Union(
    [Type.Literal('admin'), Type.Literal('dynamic'), Type.Literal('metadata_document')],
    {
      description:
        'admin: made here or with the CLI; dynamic: self-registered at /oauth/register (RFC 7591); ' +
        'metadata_document: its client_id is the HTTPS URL of its metadata, read from there. ' +
        'The last two are never first-party.',
    },
  ),
});
export type OAuthClientView = Static<typeof OAuthClientSchema>;

export const OAuthClientWithSecretSchema = Type.Object({
  ...OAuthClientSchema.properties,
  client_secret: Type.Optional(
    Type.String({
      description:
        'Confidential clients only. Shown only in this response; store it now. Only its hash is kept.',
    }),
  ),
});
export type OAuthClientWithSecret = Static<typeof OAuthClientWithSecretSchema>;

export const ClientIdParams = Type.Object({ client_id: ClientId });

// Redirect URIs are checked further by the service (redirect-uris.ts): absolute, https or
// loopback http or a private-use scheme, no fragment, no wildcard.
const RedirectUris = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), {
    maxItems: 20,
    description,
  });

export const GrantTypes = Type.Array(
  Type.Union([
    Type.Literal('authorization_code'),
    Type.Literal('refresh_token'),
    Type.Literal('urn:ietf:params:oauth:grant-type:token-exchange'),
    Type.Literal('urn:ietf:params:oauth:grant-type:device_code'),
  ]),
  {
    minItems: 1,
    maxItems: CLIENT_GRANT_TYPES.length * 2,
    description:
      'Grant types the client may use; duplicates are dropped. Token exchange (RFC 8693) is given only here, never by dynamic registration',
  },
);

// Spelled out so the type is the union of the names (a mapped list would type as never[]);
// oauth-clients.test.ts checks it against OIDC_SCOPES.
export const OidcScopeName = Type.Union([
  Type.Literal('openid'),
  Type.Literal('profile'),
  Type.Literal('email'),
  Type.Literal('phone'),
  Type.Literal('offline_access'),
]);

/** A protected API's scope (the resources' scope-token pattern, RFC 6749 §3.3). */
export const ResourceScopeName = Type.String({
  pattern: RESOURCE_SCOPE_NAME,
  description: 'A scope a protected API defines, e.g. `notes:read`',
});

export const Scopes = Type.Array(Type.Union([OidcScopeName, ResourceScopeName]), {
  maxItems: 50,
  description:
    "Scopes the client may ask for; duplicates are dropped. Besides the OpenID scopes, scopes of protected APIs: when any is listed, the client may have only the listed ones of any API; when none is, every scope an API defines (with the person's consent)",
});

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });

export const CreateOAuthClientBody = Type.Object(
  {
    name: Name,
    type: Type.Union([Type.Literal('confidential'), Type.Literal('public')], {
      description: 'confidential: a server that keeps a secret; public: a browser or native app',
    }),
    redirect_uris: Type.Optional(
      RedirectUris(
        'Exact redirect URIs (compared as strings at /oauth/authorize); at least one for the ' +
          'authorization_code grant, none needed by a device-only client',
      ),
    ),
    post_logout_redirect_uris: Type.Optional(
      RedirectUris('Where /oauth/logout may send the browser back to'),
    ),
    grant_types: Type.Optional(GrantTypes),
    scopes: Type.Optional(Scopes),
    first_party: Type.Optional(
      Type.Boolean({ description: 'Trusted by the operator: the consent page is skipped' }),
    ),
    client_id: Type.Optional(
      Type.String({ pattern: CLIENT_ID_PATTERN, description: 'Generated when absent' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateOAuthClient = Static<typeof CreateOAuthClientBody>;

export const UpdateOAuthClientBody = Type.Object(
  {
    name: Type.Optional(Name),
    redirect_uris: Type.Optional(RedirectUris('Replaces the list')),
    post_logout_redirect_uris: Type.Optional(RedirectUris('Replaces the list')),
    grant_types: Type.Optional(GrantTypes),
    scopes: Type.Optional(Scopes),
    first_party: Type.Optional(Type.Boolean()),
  },
  {
    additionalProperties: false,
    description: 'The fields to change; a client keeps its type and client_id for life',
  },
);
export type UpdateOAuthClient = Static<typeof UpdateOAuthClientBody>;

export const ConsentSchema = Type.Object({
  client_id: Type.String(),
  client_name: Type.String(),
  scopes: Type.Array(Type.String()),
  granted_at: Timestamp,
});
export type ConsentView = Static<typeof ConsentSchema>;

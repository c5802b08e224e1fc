import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** A timestamp the database fills in on insert, read back as a Date. */
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;

export interface UsersTable {
  id: Generated<string>;
  /** Always stored normalized (trimmed, lower case); unique. */
  email: string;
  email_verified: Generated<boolean>;
  name: string | null;
  is_active: Generated<boolean>;
  /** A confirmed TOTP authenticator: sign-in asks for a code. */
  mfa_enabled: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  last_signin_at: NullableTimestamp;
}

/** Kept apart from users so that only one query ever reads a password hash. */
export interface CredentialsTable {
  user_id: string;
  password_hash: string;
  updated_at: Timestamp;
}

export interface ProfilesTable {
  user_id: string;
  full_name: string | null;
  avatar_url: string | null;
  phone: string | null;
  locale: string | null;
  timezone: string | null;
  updated_at: Timestamp;
}

export interface RolesTable {
  name: string;
  description: string;
  permissions: ColumnType<string[], string[] | undefined, string[]>;
  built_in: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface UserRolesTable {
  user_id: string;
  role_name: string;
  created_at: CreatedAt;
}

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  /** Public JWK; null for a symmetric (HS256) key, whose secret lives in configuration only. */
  public_jwk: ColumnType<object | null, string | null, string | null>;
  private_jwk: ColumnType<object | null, string | null, string | null>;
  created_at: CreatedAt;
  /** Set when another key became current: the key signs no more, but still verifies. */
  retired_at: NullableTimestamp;
  /** After this the public key leaves the JWKS: every token it signed has expired. */
  verify_until: NullableTimestamp;
}

export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  created_at: CreatedAt;
  last_used_at: Timestamp;
  /** Sliding expiry: last use + REFRESH_TOKEN_TTL. */
  expires_at: Timestamp;
  /** Hard limit, however active the session is. */
  absolute_expires_at: Timestamp;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
  /** The revocation's place in the feed: numbered in commit order (see revokeSessions). */
  revocation_seq: ColumnType<string | null, never, string | null>;
  user_agent: string | null;
  ip: string | null;
  /** 'api' (API sign-in), 'browser' (the /login cookie) or 'client' (an OAuth client's grant). */
  kind: ColumnType<SessionKind, SessionKind | undefined, never>;
  /** A client session's OAuth client. */
  client_id: string | null;
  /** A client session's browser session (revoked with it unless the grant is offline). */
  parent_id: string | null;
  /** When the person last proved who they are (browser and client sessions). */
  auth_time: NullableTimestamp;
  /** RFC 8176 authentication methods of that proof (`pwd`, `otp`, `mfa`). */
  amr: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
  /** A client session's granted scopes. */
  scopes: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
  /** A client session's RFC 8707 resource: its access tokens' audience. */
  resource: string | null;
  /** SHA-256 of a browser session's cookie. */
  browser_token_hash: string | null;
}

export type SessionKind = 'api' | 'browser' | 'client';

export interface RefreshTokensTable {
  /** SHA-256 of the opaque token, hex; the token itself is never stored. */
  token_hash: string;
  session_id: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  spent_at: NullableTimestamp;
  /** Hash of the token this one was exchanged for. */
  replaced_by: string | null;
  /** The child pair, sealed with a key derived from this (unstored) token; see token-seal.ts. */
  child_sealed: string | null;
}

export interface AuditEventsTable {
  id: Generated<string>;
  type: string;
  at: CreatedAt;
  actor_id: string | null;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: ColumnType<Record<string, unknown>, string | undefined, never>;
  outcome: ColumnType<AuditOutcome, AuditOutcome | undefined, never>;
}

export interface MailOutboxTable {
  id: Generated<string>;
  recipient: string;
  template: string;
  subject: string;
  text_body: string;
  html_body: string;
  created_at: CreatedAt;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  sent_at: NullableTimestamp;
  failed_at: NullableTimestamp;
  last_error: string | null;
}

export type EmailTokenPurpose = 'verify_email' | 'reset_password' | 'email_signin';

export interface EmailTokensTable {
  /** SHA-256 of the token, hex; the token itself only ever travels in the e-mail. */
  token_hash: string;
  user_id: string;
  purpose: EmailTokenPurpose;
  email: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  /** A sign-in link bound to the browser that asked: SHA-256 of the nonce in its cookie. */
  binding_hash: ColumnType<string | null, string | null | undefined, string | null>;
  /** The pending request and return path, sealed under that nonce (crypto/token-seal.ts). */
  binding_sealed: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface GroupsTable {
  id: Generated<string>;
  name: string;
  description: Generated<string>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface GroupRolesTable {
  group_id: string;
  role_name: string;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
  created_at: CreatedAt;
}

/** A view: direct roles and roles inherited through groups. Read-only. */
export interface UserEffectiveRolesView {
  user_id: ColumnType<string, never, never>;
  role_name: ColumnType<string, never, never>;
}

export interface ServiceAccountsTable {
  id: Generated<string>;
  name: string;
  /** Public identifier used in client authentication. */
  client_id: string;
  /** SHA-256 of the client secret, hex; the secret is shown once and never stored. */
  secret_hash: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  secret_rotated_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

export interface MfaTotpTable {
  user_id: string;
  /** Base32 TOTP secret; never in a response after setup, never in a log. */
  secret: string;
  created_at: CreatedAt;
  confirmed_at: NullableTimestamp;
  /** bigint: the driver returns it as a string. */
  last_time_step: ColumnType<string | null, number | null | undefined, number | null>;
}

export interface MfaRecoveryCodesTable {
  user_id: string;
  code_hash: string;
  used_at: NullableTimestamp;
}

/** How a sign-in began, before its second step. */
export type SignInFirstStep = 'password' | 'email_link';

export interface MfaChallengesTable {
  token_hash: string;
  user_id: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  first_step: ColumnType<SignInFirstStep, SignInFirstStep | undefined, never>;
}

export interface OAuthClientsTable {
  client_id: string;
  name: string;
  type: 'confidential' | 'public';
  /** SHA-256 of the client secret, hex (confidential clients); shown once, never stored. */
  secret_hash: string | null;
  redirect_uris: ColumnType<string[], string[] | undefined, string[]>;
  post_logout_redirect_uris: ColumnType<string[], string[] | undefined, string[]>;
  grant_types: ColumnType<string[], string[] | undefined, string[]>;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  first_party: Generated<boolean>;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  secret_rotated_at: NullableTimestamp;
  /**
   * 'admin': made through the admin API or the CLI; 'dynamic': self-registered (RFC 7591);
   * 'metadata_document': its client_id is the HTTPS URL of its metadata, fetched from there.
   */
  registration: Generated<ClientRegistration>;
  /** A metadata-document client's fetched copy is fresh until then; null for the others. */
  metadata_expires_at: NullableTimestamp;
}

export type ClientRegistration = 'admin' | 'dynamic' | 'metadata_document';

export interface AuthorizationRequestsTable {
  id_hash: string;
  client_id: string;
  params: ColumnType<Record<string, unknown>, string, string>;
  session_id: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
}

export interface AuthorizationCodesTable {
  code_hash: string;
  client_id: string;
  user_id: string;
  browser_session_id: string;
  redirect_uri: string;
  code_challenge: string;
  nonce: string | null;
  scopes: ColumnType<string[], string[], string[]>;
  resource: string | null;
  auth_time: Timestamp;
  amr: ColumnType<string[], string[], string[]>;
  created_at: CreatedAt;
  expires_at: Timestamp;
  spent_at: NullableTimestamp;
  issued_session_id: string | null;
}

export interface OAuthConsentsTable {
  user_id: string;
  client_id: string;
  scopes: ColumnType<string[], string[], string[]>;
  granted_at: CreatedAt;
  updated_at: Timestamp;
}

export interface ApiResourceScope {
  name: string;
  description: string;
}

export interface ApiResourcesTable {
  id: Generated<string>;
  identifier: string;
  name: string;
  scopes: ColumnType<ApiResourceScope[], string, string>;
  /** Seconds; null: ACCESS_TOKEN_TTL. */
  access_token_ttl: number | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type DeviceAuthorizationStatus = 'pending' | 'approved' | 'denied' | 'spent';

export interface DeviceAuthorizationsTable {
  device_code_hash: string;
  user_code_hash: string;
  client_id: string;
  scopes: ColumnType<string[], string[], string[]>;
  resource: string | null;
  status: DeviceAuthorizationStatus;
  user_id: string | null;
  browser_session_id: string | null;
  auth_time: NullableTimestamp;
  amr: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
  expires_at: Timestamp;
  last_polled_at: NullableTimestamp;
  interval: number;
  created_at: CreatedAt;
}

export interface PasskeysTable {
  id: Generated<string>;
  user_id: string;
  credential_id: string;
  public_key: ColumnType<Uint8Array, Uint8Array, never>;
  /** bigint: read as a string. */
  counter: ColumnType<string, number | undefined, number>;
  transports: ColumnType<string[], string[] | undefined, string[]>;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  name: string;
  created_at: CreatedAt;
  last_used_at: NullableTimestamp;
  counter_regressed_at: NullableTimestamp;
}

export type PasskeyChallengePurpose = 'register' | 'signin' | 'mfa';

export interface PasskeyChallengesTable {
  id: Generated<string>;
  challenge_hash: string;
  purpose: PasskeyChallengePurpose;
  user_id: string | null;
  mfa_token_hash: string | null;
  passkey_name: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
}

export interface PasskeySettingsTable {
  id: number;
  decoy_key: string;
}

export type AuditOutcome = 'success' | 'failure';

export interface Database {
  users: UsersTable;
  credentials: CredentialsTable;
  profiles: ProfilesTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  signing_keys: SigningKeysTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  audit_events: AuditEventsTable;
  mail_outbox: MailOutboxTable;
  email_tokens: EmailTokensTable;
  groups: GroupsTable;
  group_roles: GroupRolesTable;
  group_members: GroupMembersTable;
  user_effective_roles: UserEffectiveRolesView;
  service_accounts: ServiceAccountsTable;
  mfa_totp: MfaTotpTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  oauth_clients: OAuthClientsTable;
  authorization_requests: AuthorizationRequestsTable;
  authorization_codes: AuthorizationCodesTable;
  oauth_consents: OAuthConsentsTable;
  api_resources: ApiResourcesTable;
  device_authorizations: DeviceAuthorizationsTable;
  passkeys: PasskeysTable;
  passkey_challenges: PasskeyChallengesTable;
  passkey_settings: PasskeySettingsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type RoleRow = Selectable<RolesTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type MailOutboxRow = Selectable<MailOutboxTable>;
export type EmailTokenRow = Selectable<EmailTokensTable>;

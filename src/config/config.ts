import { isIP } from 'node:net';
import { parseDuration } from './duration.js';

export type JwtAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['EdDSA', 'ES256', 'RS256', 'HS256'];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where the data lives: a PostgreSQL server, or the embedded PostgreSQL (on disk or in memory). */
export type DatabaseTarget =
  { kind: 'postgres'; url: string } | { kind: 'embedded'; dataDir: string } | { kind: 'memory' };

export interface PasswordHashingConfig {
  /** argon2id memory cost in KiB (OWASP: 19456). */
  memoryKib: number;
  /** argon2id time cost (OWASP: 2). */
  iterations: number;
  parallelism: number;
}

export interface Config {
  port: number;
  host: string;
  database: DatabaseTarget;
  /** Pool size for a PostgreSQL server. */
  databasePoolSize: number;
  /** Run pending migrations at start (under a lock, so concurrent instances are safe). */
  migrateOnStart: boolean;
  redisUrl: string | undefined;
  /** Base of links in e-mails and the token issuer; no trailing slash. */
  publicUrl: string;
  jwt: {
    algorithm: JwtAlgorithm;
    secret: string | undefined;
    audience: string;
    issuer: string;
  };
  /** Seconds. */
  accessTokenTtl: number;
  refreshTokenTtl: number;
  /** A service account's (client_credentials) access token. */
  serviceTokenTtl: number;
  refreshReuseInterval: number;
  /** A session ends this long after sign-in however active it is. */
  sessionMaxLifetime: number;
  smtpUrl: string | undefined;
  mailFrom: string;
  emailVerificationRequired: boolean;
  /** Sign-in through a single-use link sent by e-mail (EMAIL_LINK_SIGNIN). */
  emailLinkSignin: boolean;
  admin: { email: string; password: string } | undefined;
  corsOrigins: readonly string[];
  trustProxy: readonly string[] | undefined;
  passwordRequireClasses: boolean;
  passwordHashing: PasswordHashingConfig;
  mfaRequiredRoles: readonly string[];
  auditRetention: number;
  metricsToken: string | undefined;
  rateLimit: boolean;
  /** Per-limit budgets (RATE_LIMIT_* variables); windows are fixed by the contract. */
  rateLimits: {
    authPerMinute: number;
    signinFailuresPerSource: number;
    signinFailuresPerAccount: number;
    /** Mail that requests may cause, per hour, all instances together. */
    mailPerHour: number;
  };
  logLevel: LogLevel;
  /** Largest request body accepted, in bytes. */
  bodyLimit: number;
  /** OpenID Connect provider: seconds an authorization code lives (AUTHORIZATION_CODE_TTL). */
  authorizationCodeTtl: number;
  /** A browser session at /login ends this long after its last use (BROWSER_SESSION_TTL). */
  browserSessionTtl: number;
  /** RFC 7591 dynamic client registration (OAUTH_DYNAMIC_REGISTRATION). */
  oauthDynamicRegistration: 'off' | 'public' | 'open';
  /** Client ID metadata documents: HTTPS client_id URLs (OAUTH_CIMD). */
  oauthCimd: boolean;
  /**
   * Outbound fetches (metadata documents, webhooks) may reach private, loopback and link-local
   * addresses (OUTBOUND_ALLOW_PRIVATE; tests only).
   */
  outboundAllowPrivate: boolean;
  /** Passkeys (WebAuthn): the relying party and how much the authenticator must check. */
  webauthn: WebAuthnConfig;
}

export type UserVerification = 'required' | 'preferred' | 'discouraged';
export const USER_VERIFICATIONS: readonly UserVerification[] = [
  'required',
  'preferred',
  'discouraged',
];

export interface WebAuthnConfig {
  /** The relying party id (WEBAUTHN_RP_ID): a host name, by default PUBLIC_URL's. */
  rpId: string;
  /** Origins allowed to use it (WEBAUTHN_ORIGINS), each on the RP id or a subdomain of it. */
  origins: readonly string[];
  /** WEBAUTHN_USER_VERIFICATION: `required` refuses an assertion without the UV flag. */
  userVerification: UserVerification;
}

/** A configuration value that cannot be used; its message is one line naming the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads one variable, treating an empty or blank value as unset. */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const value = read(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(name, `expected true or false, got "${value}"`);
}

function readDuration(env: Env, name: string, fallback: string, minSeconds = 1): number {
  const text = read(env, name) ?? fallback;
  const seconds = parseDuration(text);
  if (seconds === undefined) {
    throw new ConfigError(
      name,
      `expected seconds or a duration like 90s, 15m, 8h or 30d, got "${text}"`,
    );
  }
  if (seconds < minSeconds) throw new ConfigError(name, `must be at least ${minSeconds} seconds`);
  return seconds;
}

function readInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = read(env, name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new ConfigError(name, `expected a whole number, got "${text}"`);
  const value = Number(text);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function readList(env: Env, name: string): string[] {
  return (read(env, name) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function readUrl(env: Env, name: string, fallback: string | undefined, protocols: string[]) {
  const text = read(env, name) ?? fallback;
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL`);
  }
  return text;
}

function readDatabase(env: Env): DatabaseTarget {
  const url = read(env, 'DATABASE_URL');
  if (url === undefined) return { kind: 'embedded', dataDir: read(env, 'DATA_DIR') ?? './data' };
  if (url === 'memory://') return { kind: 'memory' };
  readUrl(env, 'DATABASE_URL', undefined, ['postgres:', 'postgresql:']);
  return { kind: 'postgres', url };
}

function readJwt(env: Env, publicUrl: string): Config['jwt'] {
  const algorithm = read(env, 'JWT_ALGORITHM') ?? 'EdDSA';
  if (!JWT_ALGORITHMS.includes(algorithm as JwtAlgorithm)) {
    throw new ConfigError('JWT_ALGORITHM', `expected one of ${JWT_ALGORITHMS.join(', ')}`);
  }
  const secret = read(env, 'JWT_SECRET');
  if (algorithm === 'HS256') {
    if (secret === undefined) throw new ConfigError('JWT_SECRET', 'is required for HS256');
    if (Buffer.byteLength(secret) < 32)
      throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes');
  }
  return {
    algorithm: algorithm as JwtAlgorithm,
    secret: algorithm === 'HS256' ? secret : undefined,
    audience: read(env, 'JWT_AUDIENCE') ?? 'hyperion',
    issuer: publicUrl,
  };
}

function readAdmin(env: Env): Config['admin'] {
  const email = read(env, 'ADMIN_EMAIL');
  const password = env['ADMIN_PASSWORD'];
  if (email === undefined && !password) return undefined;
  if (email === undefined)
    throw new ConfigError('ADMIN_EMAIL', 'is required when ADMIN_PASSWORD is set');
  if (!password) throw new ConfigError('ADMIN_PASSWORD', 'is required when ADMIN_EMAIL is set');
  return { email, password };
}

function readTrustProxy(env: Env): string[] | undefined {
  const entries = readList(env, 'TRUST_PROXY');
  if (entries.length === 0) return undefined;
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || rest.length > 0) {
      throw new ConfigError('TRUST_PROXY', `"${entry}" is not an IP address or CIDR range`);
    }
  }
  return entries;
}

function readLogLevel(env: Env): LogLevel {
  const level = read(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return level as LogLevel;
}

function readChoice<T extends string>(
  env: Env,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const value = read(env, name)?.toLowerCase() ?? fallback;
  if (!(choices as readonly string[]).includes(value))
    throw new ConfigError(name, `expected one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}

/**
 * WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS. Browsers only let a page use an RP id that is its own
 * host or a parent of it, so an origin outside the RP id could never register or sign in: it
 * is refused here rather than failing every ceremony later.
 */
function readWebAuthn(env: Env, publicUrl: string): WebAuthnConfig {
  const publicOrigin = new URL(publicUrl);
  const rpId = (read(env, 'WEBAUTHN_RP_ID') ?? publicOrigin.hostname).toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(rpId))
    throw new ConfigError(
      'WEBAUTHN_RP_ID',
      `expected a host name without scheme or port, got "${rpId}"`,
    );
  const listed = readList(env, 'WEBAUTHN_ORIGINS');
  const origins = listed.length > 0 ? listed : [publicOrigin.origin];
  const checked = origins.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConfigError('WEBAUTHN_ORIGINS', `"${text}" is not a valid origin`);
    }
    if (!['http:', 'https:'].includes(url.protocol) || url.origin !== text.replace(/\/+$/, ''))
      throw new ConfigError('WEBAUTHN_ORIGINS', `"${text}" is not an http(s) origin (no path)`);
    const host = url.hostname.toLowerCase();
    if (host !== rpId && !host.endsWith(`.${rpId}`))
      throw new ConfigError('WEBAUTHN_ORIGINS', `"${text}" is not on the RP id "${rpId}"`);
    return url.origin;
  });
  return {
    rpId,
    origins: [...new Set(checked)],
    userVerification: readChoice(
      env,
      'WEBAUTHN_USER_VERIFICATION',
      USER_VERIFICATIONS,
      'preferred',
    ),
  };
}

function readRateLimit(env: Env): boolean {
  const value = read(env, 'RATE_LIMIT')?.toLowerCase() ?? 'on';
  if (value === 'on') return true;
  if (value === 'off') return false;
  throw new ConfigError('RATE_LIMIT', `expected on or off, got "${value}"`);
}

/**
 * Parses the environment into the service's configuration: every value is
 * checked here, once, so a wrong one stops the start with a line naming it.
 */
export function loadConfig(env: Env): Readonly<Config> {
  const publicUrl = readUrl(env, 'PUBLIC_URL', 'http://localhost:8000', ['http:', 'https:'])!;
  const normalizedPublicUrl = publicUrl.replace(/\/+$/, '');
  const accessTokenTtl = readDuration(env, 'ACCESS_TOKEN_TTL', '15m');
  const refreshTokenTtl = readDuration(env, 'REFRESH_TOKEN_TTL', '30d');
  if (refreshTokenTtl < accessTokenTtl) {
    throw new ConfigError('REFRESH_TOKEN_TTL', 'must not be shorter than ACCESS_TOKEN_TTL');
  }
  const sessionMaxLifetime = readDuration(env, 'SESSION_MAX_LIFETIME', '90d');
  if (sessionMaxLifetime < refreshTokenTtl) {
    throw new ConfigError('SESSION_MAX_LIFETIME', 'must not be shorter than REFRESH_TOKEN_TTL');
  }
  const metricsToken = read(env, 'METRICS_TOKEN');
  const config: Config = {
    port: readInteger(env, 'PORT', 8000, 0, 65_535),
    host: read(env, 'HOST') ?? '127.0.0.1',
    database: readDatabase(env),
    databasePoolSize: readInteger(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    migrateOnStart: readBoolean(env, 'MIGRATE_ON_START', true),
    redisUrl: readUrl(env, 'REDIS_URL', undefined, ['redis:', 'rediss:']),
    publicUrl: normalizedPublicUrl,
    jwt: readJwt(env, normalizedPublicUrl),
    accessTokenTtl,
    refreshTokenTtl,
    serviceTokenTtl: readDuration(env, 'SERVICE_TOKEN_TTL', '5m'),
    refreshReuseInterval: readDuration(env, 'REFRESH_REUSE_INTERVAL', '10s', 0),
    sessionMaxLifetime,
    smtpUrl: readUrl(env, 'SMTP_URL', undefined, ['smtp:', 'smtps:']),
    mailFrom: read(env, 'MAIL_FROM') ?? 'no-reply@localhost',
    emailVerificationRequired: readBoolean(env, 'EMAIL_VERIFICATION_REQUIRED', false),
    emailLinkSignin: readBoolean(env, 'EMAIL_LINK_SIGNIN', false),
    admin: readAdmin(env),
    corsOrigins: readList(env, 'CORS_ORIGINS'),
    trustProxy: readTrustProxy(env),
    passwordRequireClasses: readBoolean(env, 'PASSWORD_REQUIRE_CLASSES', false),
    passwordHashing: {
      memoryKib: readInteger(env, 'ARGON2_MEMORY_KIB', 19_456, 8, 4_194_304),
      iterations: readInteger(env, 'ARGON2_ITERATIONS', 2, 1, 100),
      parallelism: readInteger(env, 'ARGON2_PARALLELISM', 1, 1, 16),
    },
    mfaRequiredRoles: readList(env, 'MFA_REQUIRED_ROLES'),
    auditRetention: readDuration(env, 'AUDIT_RETENTION', '90d'),
    metricsToken,
    rateLimit: readRateLimit(env),
    rateLimits: {
      authPerMinute: readInteger(env, 'RATE_LIMIT_AUTH_PER_MINUTE', 300, 1, 1_000_000),
      signinFailuresPerSource: readInteger(env, 'RATE_LIMIT_SIGNIN_FAILURES', 10, 1, 1_000_000),
      signinFailuresPerAccount: readInteger(env, 'RATE_LIMIT_ACCOUNT_FAILURES', 100, 1, 1_000_000),
      mailPerHour: readInteger(env, 'RATE_LIMIT_MAIL_PER_HOUR', 1000, 1, 10_000_000),
    },
    logLevel: readLogLevel(env),
    bodyLimit: readInteger(env, 'BODY_LIMIT', 65_536, 1024, 10_485_760),
    authorizationCodeTtl: readDuration(env, 'AUTHORIZATION_CODE_TTL', '60s'),
    browserSessionTtl: readDuration(env, 'BROWSER_SESSION_TTL', '12h', 60),
    oauthDynamicRegistration: readChoice(
      env,
      'OAUTH_DYNAMIC_REGISTRATION',
      ['off', 'public', 'open'],
      'off',
    ),
    oauthCimd: readBoolean(env, 'OAUTH_CIMD', true),
    outboundAllowPrivate: readBoolean(env, 'OUTBOUND_ALLOW_PRIVATE', false),
    webauthn: readWebAuthn(env, normalizedPublicUrl),
  };
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['900', 900],
    ['90s', 90],
    ['15m', 900],
    ['8h', 28_800],
    ['30d', 2_592_000],
    [' 10s ', 10],
  ])('reads %s as %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '15 minutes', '-5s', '1.5h', '10w', 'm'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8000,
      host: '127.0.0.1',
      database: { kind: 'embedded', dataDir: './data' },
      redisUrl: undefined,
      publicUrl: 'http://localhost:8000',
      jwt: { algorithm: 'EdDSA', audience: 'hyperion', issuer: 'http://localhost:8000' },
      accessTokenTtl: 900,
      refreshTokenTtl: 2_592_000,
      refreshReuseInterval: 10,
      mailFrom: 'no-reply@localhost',
      emailVerificationRequired: false,
      emailLinkSignin: false,
      admin: undefined,
      corsOrigins: [],
      trustProxy: undefined,
      passwordRequireClasses: false,
      passwordHashing: { memoryKib: 19_456, iterations: 2, parallelism: 1 },
      mfaRequiredRoles: [],
      auditRetention: 90 * 86_400,
      metricsToken: undefined,
      rateLimit: true,
      logLevel: 'info',
      oauthCimd: true,
      outboundAllowPrivate: false,
      webauthn: {
        rpId: 'localhost',
        origins: ['http://localhost:8000'],
        userVerification: 'preferred',
      },
    });
  });

  it('reads EMAIL_LINK_SIGNIN', () => {
    expect(loadConfig({ EMAIL_LINK_SIGNIN: 'true' }).emailLinkSignin).toBe(true);
    expect(loadConfig({ EMAIL_LINK_SIGNIN: 'off' }).emailLinkSignin).toBe(false);
  });

  it('takes the WebAuthn relying party from PUBLIC_URL unless it is set', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://auth.example.com/base/' }).webauthn).toEqual({
      rpId: 'auth.example.com',
      origins: ['https://auth.example.com'],
      userVerification: 'preferred',
    });
    const config = loadConfig({
      PUBLIC_URL: 'https://auth.example.com',
      WEBAUTHN_RP_ID: 'Example.com',
      WEBAUTHN_ORIGINS: 'https://auth.example.com, https://app.example.com/,https://example.com',
      WEBAUTHN_USER_VERIFICATION: 'required',
    });
    expect(config.webauthn).toEqual({
      rpId: 'example.com',
      origins: ['https://auth.example.com', 'https://app.example.com', 'https://example.com'],
      userVerification: 'required',
    });
    expect(
      loadConfig({ WEBAUTHN_USER_VERIFICATION: 'discouraged' }).webauthn.userVerification,
    ).toBe('discouraged');
  });

  it('reads OAUTH_CIMD and OUTBOUND_ALLOW_PRIVATE', () => {
    const config = loadConfig({ OAUTH_CIMD: 'off', OUTBOUND_ALLOW_PRIVATE: 'true' });
    expect(config.oauthCimd).toBe(false);
    expect(config.outboundAllowPrivate).toBe(true);
  });

  it('reads every documented variable', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u:p@db:5432/auth',
      REDIS_URL: 'redis://cache:6379',
      PUBLIC_URL: 'https://auth.example.com/',
      JWT_ALGORITHM: 'HS256',
      JWT_SECRET: 'x'.repeat(32),
      JWT_AUDIENCE: 'platform',
      ACCESS_TOKEN_TTL: '5m',
      REFRESH_TOKEN_TTL: '7d',
      SERVICE_TOKEN_TTL: '2m',
      REFRESH_REUSE_INTERVAL: '30s',
      SMTP_URL: 'smtp://mail:25',
      MAIL_FROM: 'auth@example.com',
      EMAIL_VERIFICATION_REQUIRED: 'true',
      ADMIN_EMAIL: 'root@example.com',
      ADMIN_PASSWORD: 'pw',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
      PASSWORD_REQUIRE_CLASSES: 'true',
      MFA_REQUIRED_ROLES: 'admin,ops',
      AUDIT_RETENTION: '30d',
      METRICS_TOKEN: 'm-token',
      RATE_LIMIT: 'off',
      RATE_LIMIT_AUTH_PER_MINUTE: '600',
      RATE_LIMIT_SIGNIN_FAILURES: '5',
      RATE_LIMIT_ACCOUNT_FAILURES: '50',
      RATE_LIMIT_MAIL_PER_HOUR: '20',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      database: { kind: 'postgres', url: 'postgres://u:p@db:5432/auth' },
      redisUrl: 'redis://cache:6379',
      publicUrl: 'https://auth.example.com',
      jwt: {
        algorithm: 'HS256',
        secret: 'x'.repeat(32),
        audience: 'platform',
        issuer: 'https://auth.example.com',
      },
      accessTokenTtl: 300,
      refreshTokenTtl: 604_800,
      serviceTokenTtl: 120,
      refreshReuseInterval: 30,
      smtpUrl: 'smtp://mail:25',
      mailFrom: 'auth@example.com',
      emailVerificationRequired: true,
      admin: { email: 'root@example.com', password: 'pw' },
      corsOrigins: ['https://a.example', 'https://b.example'],
      trustProxy: ['10.0.0.0/8', '127.0.0.1'],
      passwordRequireClasses: true,
      mfaRequiredRoles: ['admin', 'ops'],
      auditRetention: 2_592_000,
      metricsToken: 'm-token',
      rateLimit: false,
      rateLimits: {
        authPerMinute: 600,
        signinFailuresPerSource: 5,
        signinFailuresPerAccount: 50,
        mailPerHour: 20,
      },
      logLevel: 'debug',
    });
  });

  it('reads memory:// as the in-memory embedded database and DATA_DIR as its folder', () => {
    expect(loadConfig({ DATABASE_URL: 'memory://' }).database).toEqual({ kind: 'memory' });
    expect(loadConfig({ DATA_DIR: '/var/lib/auth' }).database).toEqual({
      kind: 'embedded',
      dataDir: '/var/lib/auth',
    });
  });

  it('is frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jwt)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ JWT_ALGORITHM: 'none' }, 'JWT_ALGORITHM'],
    [{ JWT_ALGORITHM: 'HS256' }, 'JWT_SECRET'],
    [{ JWT_ALGORITHM: 'HS256', JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ ACCESS_TOKEN_TTL: 'soon' }, 'ACCESS_TOKEN_TTL'],
    [{ ACCESS_TOKEN_TTL: '0' }, 'ACCESS_TOKEN_TTL'],
    [{ SERVICE_TOKEN_TTL: 'later' }, 'SERVICE_TOKEN_TTL'],
    [{ RATE_LIMIT_SIGNIN_FAILURES: '0' }, 'RATE_LIMIT_SIGNIN_FAILURES'],
    [{ ACCESS_TOKEN_TTL: '2h', REFRESH_TOKEN_TTL: '1h' }, 'REFRESH_TOKEN_TTL'],
    [{ REFRESH_REUSE_INTERVAL: 'x' }, 'REFRESH_REUSE_INTERVAL'],
    [{ SMTP_URL: 'http://mail' }, 'SMTP_URL'],
    [{ EMAIL_VERIFICATION_REQUIRED: 'maybe' }, 'EMAIL_VERIFICATION_REQUIRED'],
    [{ EMAIL_LINK_SIGNIN: 'sometimes' }, 'EMAIL_LINK_SIGNIN'],
    [{ ADMIN_EMAIL: 'root@example.com' }, 'ADMIN_PASSWORD'],
    [{ ADMIN_PASSWORD: 'secret' }, 'ADMIN_EMAIL'],
    [{ TRUST_PROXY: '10.0.0.0/99' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'proxy.local' }, 'TRUST_PROXY'],
    [{ PASSWORD_REQUIRE_CLASSES: 'sometimes' }, 'PASSWORD_REQUIRE_CLASSES'],
    [{ AUDIT_RETENTION: 'forever' }, 'AUDIT_RETENTION'],
    [{ RATE_LIMIT: 'maybe' }, 'RATE_LIMIT'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ OAUTH_CIMD: 'sometimes' }, 'OAUTH_CIMD'],
    [{ OUTBOUND_ALLOW_PRIVATE: 'maybe' }, 'OUTBOUND_ALLOW_PRIVATE'],
    [{ WEBAUTHN_RP_ID: 'https://example.com' }, 'WEBAUTHN_RP_ID'],
    [{ WEBAUTHN_RP_ID: 'example.com:8443' }, 'WEBAUTHN_RP_ID'],
    [{ WEBAUTHN_ORIGINS: 'not a url' }, 'WEBAUTHN_ORIGINS'],
    [{ WEBAUTHN_ORIGINS: 'http://localhost:8000/login' }, 'WEBAUTHN_ORIGINS'],
    [{ WEBAUTHN_ORIGINS: 'ftp://localhost' }, 'WEBAUTHN_ORIGINS'],
    [
      { WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://example.org' },
      'WEBAUTHN_ORIGINS',
    ],
    [
      { WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://badexample.com' },
      'WEBAUTHN_ORIGINS',
    ],
    [{ WEBAUTHN_USER_VERIFICATION: 'always' }, 'WEBAUTHN_USER_VERIFICATION'],
  ])('refuses %j with one line naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect((error as ConfigError).variable).toBe(variable);
    expect(message.startsWith(`${variable}: `)).toBe(true);
    expect(message).not.toContain('\n');
  });

  it('never echoes a secret in its complaint', () => {
    expect(() => loadConfig({ JWT_ALGORITHM: 'HS256', JWT_SECRET: 'short-secret' })).toThrow(
      /^JWT_SECRET: must be at least 32 bytes$/,
    );
  });
});

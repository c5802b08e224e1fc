import type { FastifyRequest } from 'fastify';
import type { LoggerOptions } from 'pino';
import type { LogLevel } from '../config/config.js';

// Query parameters whose values are secrets (e-mail links, OAuth redirects).
const SECRET_QUERY_KEYS = /token|password|secret|code|key/i;

/** The URL as logged: query values that could be secrets are masked. */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const params = new URLSearchParams(url.slice(queryStart + 1));
  for (const key of [...params.keys()]) {
    if (SECRET_QUERY_KEYS.test(key)) params.set(key, '[REDACTED]');
  }
  return `${url.slice(0, queryStart)}?${params.toString()}`;
}

/**
 * pino options: JSON lines, the request id on every line, and secrets redacted
 * wherever they could appear in a logged object.
 */
export function loggerOptions(level: LogLevel): LoggerOptions {
  const secretKeys = [
    'password',
    'current_password',
    'new_password',
    'password_hash',
    'access_token',
    'refresh_token',
    'mfa_token',
    'id_token',
    'token',
    'client_secret',
    'secret',
    'recovery_codes',
    'authorization',
    'cookie',
  ];
  const paths = [
    'req.headers.authorization',
    'req.headers.cookie',
    'req.headers["x-csrf-token"]',
    'res.headers["set-cookie"]',
    ...secretKeys,
    ...secretKeys.map((key) => `*.${key}`),
    ...secretKeys.map((key) => `*.*.${key}`),
  ];
  return {
    level,
    redact: { paths, censor: '[REDACTED]' },
    serializers: {
      req(request: FastifyRequest) {
        return {
          method: request.method,
          url: redactUrl(request.url),
          remote_address: request.ip,
          user_agent: request.headers['user-agent'],
        };
      },
    },
  };
}

import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { type Bindings, type ChildLoggerOptions, type LogFn, type LoggerOptions, pino } from 'pino';
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

type LineLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Whether `level` is written by a logger at `threshold` (pino's numeric order). */
function writes(level: LineLevel, threshold: string): boolean {
  const needed = pino.levels.values[threshold];
  return needed !== undefined && pino.levels.values[level]! >= needed;
}

/**
 * A request's logger that becomes pino's child logger only when a line at an enabled level
 * is written. pino builds a child's bindings through the redaction rules: done for every
 * request, that was about a tenth of a forward-auth check's CPU, whether or not it logs
 * anything (at `warn`, a successful request writes nothing).
 */
class DeferredChildLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined;
  #level: string | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {
    this.#level = options.level;
  }

  get level(): string {
    return this.#child?.level ?? this.#level ?? this.parent.level;
  }

  set level(level: string) {
    if (this.#child) this.#child.level = level;
    else this.#level = level;
  }

  #line(level: LineLevel): LogFn {
    return ((...args: Parameters<LogFn>) => {
      if (!writes(level, this.level)) return;
      this.#child ??= this.parent.child(this.bindings, { ...this.options, level: this.level });
      this.#child[level](...args);
    }) as LogFn;
  }

  fatal = this.#line('fatal');
  error = this.#line('error');
  warn = this.#line('warn');
  info = this.#line('info');
  debug = this.#line('debug');
  trace = this.#line('trace');
  silent: LogFn = () => {};

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    // Deferred too: one pino child with both sets of bindings, if it ever writes.
    return new DeferredChildLogger(
      this.parent,
      { ...this.bindings, ...bindings },
      { level: this.level, ...options },
    );
  }
}

/** Fastify's `childLoggerFactory`: each request's logger, made when first written to. */
export function deferredChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new DeferredChildLogger(logger, bindings, options);
}

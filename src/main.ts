#!/usr/bin/env node
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config/config.js';
import { createDeps } from './deps.js';
import { BootstrapError, ensureBootstrapAdmin } from './features/accounts/bootstrap-admin.js';
import { loadDotEnv } from './lib/env-file.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;

/** A start-up failure the operator can fix: one line, no stack trace. */
function exitWith(message: string): never {
  process.stderr.write(`hyperion-auth: ${message}\n`);
  process.exit(1);
}

function describeStartupError(error: unknown): string {
  if (error instanceof ConfigError || error instanceof BootstrapError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | null)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND')
    return `DATABASE_URL: cannot connect (${message})`;
  return `cannot start: ${message}`;
}

async function start(): Promise<void> {
  loadDotEnv();
  const config = loadConfig(process.env);
  // Background failures (Redis pub/sub, key re-reads) are logged once the logger exists.
  let app: FastifyInstance | undefined;
  const deps = await createDeps(config, {
    onBackgroundError: (error) => app?.log.warn({ err: error }, 'background task failed'),
    onPoolError: (error) => app?.log.warn({ err: error }, 'database connection lost'),
    log: {
      info: (obj, msg) => app?.log.info(obj, msg),
      warn: (obj, msg) => app?.log.warn(obj, msg),
    },
    // Started below, once the logger exists: without SMTP_URL the log is where mail goes.
    startWorkers: false,
  });
  app = await buildApp(deps);
  deps.services.mail.start();
  deps.services.audit.startRetention();
  deps.services.oidcHousekeeping.start();
  if (config.admin) {
    const result = await ensureBootstrapAdmin(deps.services.accounts, config.admin);
    if (result === 'created')
      app.log.info({ email: config.admin.email }, 'bootstrap admin created');
  }
  await app.listen({ port: config.port, host: config.host });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    // Exit within a bound even if something hangs on the way down.
    setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref();
    await app.close();
    await deps.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

start().catch((error: unknown) => exitWith(describeStartupError(error)));

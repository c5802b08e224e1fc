import { existsSync } from 'node:fs';

/** Loads `.env` from the working directory into process.env, if there is one (real env wins). */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

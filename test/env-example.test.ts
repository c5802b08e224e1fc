import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';

// `.env.example` is the operator's list of settings: every variable the configuration reads
// must be in it, and its defaults must be the configuration's own.
const root = new URL('../', import.meta.url);
const configSource = readFileSync(new URL('src/config/config.ts', root), 'utf8');
const example = readFileSync(new URL('.env.example', root), 'utf8');

const variablesRead = new Set(
  [...configSource.matchAll(/(?:read[A-Za-z]*\(env, |env\[)'([A-Z][A-Z0-9_]+)'/g)].map(
    (match) => match[1],
  ),
);
/** `NAME=value` lines, with the leading `# ` of a default left commented out removed. */
const exampleLines = example
  .split('\n')
  .map((line) => /^#?\s*([A-Z][A-Z0-9_]+)=(.*)$/.exec(line))
  .filter((match): match is RegExpExecArray => match !== null);

describe('.env.example', () => {
  it('names every variable the configuration reads', () => {
    expect(variablesRead.size).toBeGreaterThan(30);
    const named = new Set(exampleLines.map((match) => match[1]));
    expect([...variablesRead].filter((name) => !named.has(name))).toEqual([]);
  });

  it('shows the defaults the configuration applies', () => {
    const commentedDefaults = Object.fromEntries(
      example
        .split('\n')
        .map((line) => /^#\s*([A-Z][A-Z0-9_]+)=(.+)$/.exec(line))
        .filter((match): match is RegExpExecArray => match !== null)
        .filter((match) => variablesRead.has(match[1] ?? ''))
        .map((match) => [match[1] ?? '', match[2] ?? '']),
    );
    // Settings that need a value of the operator's own (secrets, addresses) have none to show.
    const withoutRequired = Object.fromEntries(
      Object.entries(commentedDefaults).filter(
        ([name]) =>
          !['JWT_SECRET', 'ADMIN_EMAIL', 'ADMIN_PASSWORD', 'METRICS_TOKEN'].includes(name),
      ),
    );
    expect(loadConfig(withoutRequired)).toEqual(loadConfig({}));
  });
});

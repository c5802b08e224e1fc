const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses a configuration duration: plain seconds (`900`) or a number with a
 * unit (`90s`, `15m`, `8h`, `30d`). Returns whole seconds, or undefined when
 * the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d{1,9})\s*([smhd]?)\s*$/.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] || 's';
  return amount * (UNIT_SECONDS[unit] ?? 1);
}

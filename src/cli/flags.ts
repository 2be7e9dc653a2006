// Command-line flags: a small parser that names the flag in every error.

import { ConfigError } from '../config/schema.js';

export interface FlagSpec {
  /** Flag takes a value; `repeat` collects every occurrence. */
  value: boolean;
  repeat?: boolean;
}

export type ParsedFlags = Record<string, string | string[] | boolean>;

export function parseFlags(argv: string[], spec: Record<string, FlagSpec>): { flags: ParsedFlags; rest: string[] } {
  const flags: ParsedFlags = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const s = spec[name];
    if (!s) throw ConfigError.unknown(`--${name}`, Object.keys(spec).map((k) => `--${k}`).join(' '));
    if (!s.value) {
      if (eq > 0) throw new ConfigError(`--${name}`, 'no value');
      flags[name] = true;
      continue;
    }
    const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new ConfigError(`--${name}`, 'a value');
    if (s.repeat) flags[name] = [...((flags[name] as string[]) ?? []), v];
    else if (flags[name] !== undefined) throw new ConfigError(`--${name}`, 'to be given once');
    else flags[name] = v;
  }
  return { flags, rest };
}

/** An integer flag within [min, max]; `dflt` when absent. */
export function intFlag(v: unknown, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max) throw new ConfigError(`--${name}`, `an integer from ${min} to ${max}`, v);
  return n;
}

// Reading a configuration table strictly: each field by name, with its expected shape, and
// every key nobody asked about refused. A problem is one line naming the field.

import { isIP } from 'node:net';

/** A configuration problem: one line naming the field and what was expected. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
    got?: unknown,
  ) {
    super(`${field}: expected ${expected}${got === undefined ? '' : `, got ${show(got)}`}`);
  }

  /** A field, flag or command that does not exist. */
  static unknown(field: string, known?: string): ConfigError {
    const e = new ConfigError(field, '');
    e.message = `${field}: unknown${known ? `; expected one of ${known}` : ''}`;
    return e;
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v) || (v && typeof v === 'object')) return JSON.stringify(v);
  return String(v);
}

export type Obj = Record<string, unknown>;

/** Reads one table's fields, refusing any key it was not asked about. */
export class Fields {
  private readonly used = new Set<string>();
  constructor(
    private readonly obj: Obj,
    private readonly path: string,
  ) {}

  name(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  raw(key: string): unknown {
    this.used.add(key);
    return this.obj[key];
  }

  int(key: string, min: number, max: number, dflt?: number, expected?: string): number {
    const v = this.raw(key);
    if (v === undefined) {
      if (dflt === undefined) throw new ConfigError(this.name(key), expected ?? `an integer from ${min} to ${max}`);
      return dflt;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(this.name(key), expected ?? `an integer from ${min} to ${max}`, v);
    }
    return v;
  }

  optInt(key: string, min: number, max: number, expected?: string): number | undefined {
    return this.has(key) ? this.int(key, min, max, undefined, expected) : (this.raw(key), undefined);
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw new ConfigError(this.name(key), 'true or false', v);
    return v;
  }

  str(key: string, dflt?: string): string {
    const v = this.raw(key);
    if (v === undefined) {
      if (dflt === undefined) throw new ConfigError(this.name(key), 'a string');
      return dflt;
    }
    if (typeof v !== 'string') throw new ConfigError(this.name(key), 'a string', v);
    return v;
  }

  ip(key: string, required: boolean): string | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (required) throw new ConfigError(this.name(key), 'an IPv4 or IPv6 address');
      return undefined;
    }
    if (typeof v !== 'string' || isIP(v) === 0) throw new ConfigError(this.name(key), 'an IPv4 or IPv6 address', v);
    return v;
  }

  oneOf<T extends string>(key: string, options: readonly T[], dflt?: T): T {
    const v = this.raw(key);
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'string' || !options.includes(v as T)) {
      throw new ConfigError(this.name(key), `one of ${options.join(', ')}`, v);
    }
    return v as T;
  }

  table(key: string): Fields | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(this.name(key), 'a table', v);
    return new Fields(v as Obj, this.name(key));
  }

  /** Call once every field was read: any key left over is a mistake, not an option. */
  done(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.used.has(key)) throw ConfigError.unknown(this.name(key));
    }
  }
}

export interface ListenAddress {
  address: string;
  port: number;
}

/** Parses "ADDR:PORT", "[V6]:PORT" or a bare address (port `dflt`). */
export function parseHostPort(text: string, field: string, dflt: number): ListenAddress {
  const m = text.match(/^\[([^\]]+)\](?::(\d+))?$/) ?? text.match(/^([^:]+)(?::(\d+))?$/);
  const address = isIP(text) === 6 ? text : m?.[1];
  const portText = isIP(text) === 6 ? undefined : m?.[2];
  if (!address || isIP(address) === 0) throw new ConfigError(field, 'ADDRESS[:PORT] (IPv6 as [ADDRESS]:PORT)', text);
  const port = portText === undefined ? dflt : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(field, 'a port from 1 to 65535', text);
  return { address, port };
}

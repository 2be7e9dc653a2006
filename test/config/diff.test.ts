// What a reload would change (src/config/diff.ts): neighbors added, removed, changed (each
// change sorted by what applying it takes) and unchanged; settings that cannot change while
// running refuse the reload with the field named as the file spells it.
import { describe, expect, it } from 'vitest';
import { diffConfig, firstDifference, NEIGHBOR_FIELDS } from '../../src/config/diff.js';
import { ConfigError, validateConfig } from '../../src/config/schema.js';

const base = (neighbors: Array<Record<string, unknown>>, global: Record<string, unknown> = {}, more: Record<string, unknown> = {}) =>
  validateConfig({ global: { asn: 65000, 'router-id': '10.0.0.1', 'listen-addresses': ['127.0.0.1'], ...global }, neighbors, ...more });

const A = { address: '192.0.2.1', 'remote-as': 65001, 'import-policy': 'accept', 'export-policy': 'accept' };
const B = { address: '192.0.2.2', 'remote-as': 65002 };
const C = { address: '2001:db8::3', 'remote-as': 65003, 'hold-time': 30 };

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('config diff', () => {
  it('sorts neighbors by address into added, removed, changed and unchanged', () => {
    const d = diffConfig(base([A, B, C]), base([{ ...C }, { ...A, 'hold-time': 30 }, { address: '192.0.2.9', 'remote-as': 65009 }]));
    expect(d.added.map((n) => n.address)).toEqual(['192.0.2.9']);
    expect(d.removed).toEqual(['192.0.2.2']);
    expect(d.unchanged).toEqual(['2001:db8::3']);
    expect(d.changed.map((c) => [c.address, c.fields, [...c.kinds]])).toEqual([['192.0.2.1', ['hold-time'], ['session']]]);
  });

  it('says what each change takes, and names fields as the file spells them', () => {
    const changed = (more: Record<string, unknown>) => {
      const d = diffConfig(base([A]), base([{ ...A, ...more }]));
      return d.changed.map((c) => [c.fields, [...c.kinds].sort()])[0];
    };
    expect(changed({ 'import-policy': 'reject' })).toEqual([['import-policy'], ['import']]);
    expect(changed({ 'export-policy': undefined, export: { default: 'accept', rules: [{ prefixes: ['10.0.0.0/8'], action: 'reject' }] } })).toEqual([['export-policy'], ['export']]);
    expect(changed({ 'max-prefix': { limit: 10 } })).toEqual([['max-prefix'], ['max-prefix']]);
    expect(changed({ description: 'x', 'connect-retry': 5 })).toEqual([['description', 'connect-retry'], ['in-place']]);
    expect(changed({ 'remote-as': 65011, 'add-path': 'both', 'import-policy': 'reject' })).toEqual([['remote-as', 'add-path', 'import-policy'], ['import', 'session']]);
    expect(changed({ 'next-hop-v6': '2001:db8::1' })).toEqual([['next-hop-v6'], ['export']]);
    // A policy with the same rules, written again, is no change.
    const rules = { import: { default: 'accept', rules: [{ prefixes: ['10.0.0.0/8-24'], communities: ['65000:1'], action: 'reject' }] } };
    const same = { ...A, 'import-policy': undefined, ...rules };
    expect(diffConfig(base([same]), base([structuredClone(same)])).unchanged).toEqual(['192.0.2.1']);
  });

  it('knows every neighbor field', () => {
    const parsed = base([A]).neighbors[0];
    for (const k of Object.keys(parsed)) expect(NEIGHBOR_FIELDS, k).toHaveProperty(k);
  });

  it('refuses what cannot change while running, naming the field', () => {
    expect(refusal(() => diffConfig(base([A]), base([A], { 'router-id': '10.0.0.2' }))).message).toBe(
      'global.router-id: cannot change while running ("10.0.0.1" -> "10.0.0.2"); restart ribstorm to apply it',
    );
    expect(refusal(() => diffConfig(base([A]), base([A], { asn: 65100 }))).field).toBe('global.asn');
    expect(refusal(() => diffConfig(base([A]), base([A], { 'listen-port': 1179 }))).field).toBe('global.listen-port');
    expect(refusal(() => diffConfig(base([A]), base([A], { 'listen-addresses': ['127.0.0.2'] }))).field).toBe('global.listen-addresses');
    expect(refusal(() => diffConfig(base([A]), base([A], {}, { rib: { 'attribute-sets': 4096 } }))).field).toBe('rib.attribute-sets');
    expect(refusal(() => diffConfig(base([A]), base([A], {}, { api: { listen: '127.0.0.1:9999' } }))).field).toBe('api.listen');
    const station = (port: number) => ({ bmp: [{ station: `192.0.2.50:${port}` }] });
    expect(refusal(() => diffConfig(base([A], {}, station(1790)), base([A], {}, station(1791)))).message).toBe(
      'bmp[0].station: cannot change while running ("192.0.2.50:1790" -> "192.0.2.50:1791"); restart ribstorm to apply it',
    );
    expect(refusal(() => diffConfig(base([A]), base([A], {}, station(1790)))).field).toBe('bmp');
    // An absent [api] and the default one are the same.
    const noApi = { ...base([A]) };
    delete noApi.api;
    expect(diffConfig(noApi, base([A])).unchanged).toEqual(['192.0.2.1']);
  });

  it('finds the first difference of nested values', () => {
    expect(firstDifference({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBeNull();
    expect(firstDifference({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] })).toEqual(['a', '1', 'b']);
    expect(firstDifference({ a: undefined }, {})).toBeNull();
    expect(firstDifference(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBeNull();
    expect(firstDifference(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toEqual([]);
  });
});

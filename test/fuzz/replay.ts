// Replays one reproducer through the three decoders and prints what each made of it:
//   node dist/test/fuzz/replay.js "asn4=1 ebgp=1 addPath4=0 addPath6=0" ffff...hex

import { decodeUpdate } from '../../src/packet/index.js';
import { LivePath, fromHex, parseCtx, runCase, toHex } from './harness.js';

const [ctxArg, hexArg] = process.argv.slice(2);
if (!ctxArg || !hexArg) {
  console.error('usage: replay "asn4=1 ebgp=1 addPath4=0 addPath6=0" <hex>');
  process.exit(2);
}
const ctx = parseCtx(ctxArg);
const msg = fromHex(hexArg);
const r = runCase(msg, ctx, new LivePath());
const show = (x: unknown) => JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v), 2);
console.log('reference:', show(r.ref));
try {
  const u = decodeUpdate(msg, { asn4: ctx.asn4, ebgp: ctx.ebgp, addPath: { ipv4: ctx.addPath4, ipv6: ctx.addPath6 } });
  console.log('codec:', show(u));
} catch (e) {
  console.log('codec threw:', (e as Error).message);
}
console.log('live:', show({ error: r.live.error, routes: Object.fromEntries([...r.live.routes].map(([k, v]) => [k, toHex(v)])) }));
console.log('disagreements:', show(r.disagreements));

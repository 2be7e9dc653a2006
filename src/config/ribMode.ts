// `[rib] mode`: what needs a Loc-RIB is refused in collector mode, where no best path is
// chosen. BMP's Loc-RIB monitoring (RFC 9069) is such a thing: a station asking for it would
// get an empty instance forever, so the configuration says so at once instead.

import { ConfigError } from './fields.js';
import type { Config } from './schema.js';

/**
 * Throws for the first setting that needs the decision process when `config.rib.mode` is
 * `collector`; `bmpField(i)` names the i-th BMP station as the user wrote it.
 */
export function checkRibMode(config: Config, bmpField: (i: number) => string = (i) => `bmp[${i}].monitoring`): void {
  if (config.rib.mode !== 'collector') return;
  (config.bmp ?? []).forEach((b, i) => {
    if (b.monitoring.includes('local-rib')) {
      throw new ConfigError(bmpField(i), '"pre-policy" in collector mode (rib.mode = "collector" keeps no Loc-RIB to monitor)', b.monitoring);
    }
  });
}

// The status page: `GET /` and `GET /ui/*`, plain files from ./dashboard/ (HTML, one JS
// module, CSS, an icon) and uPlot's build from node_modules, each read once and kept. Only the names
// below are served: nothing of the request reaches the file system.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ApiError, type Reply } from './transport.js';

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const SVG = 'image/svg+xml';

/** Request path -> [where the file is, content type]. */
type Files = Record<string, [file: string, contentType: string]>;

/**
 * The folder of the page's files. tsc copies no static files: run from sources it is beside
 * this module (src/api/dashboard/), run from dist/src/api/ it is the package's src/api/dashboard/.
 */
export function dashboardFolder(): string {
  const tried = ['./dashboard/', '../../../src/api/dashboard/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = tried.find((dir) => existsSync(`${dir}index.html`));
  if (!found) throw new Error(`the dashboard's files are not in ${tried.join(' or ')}`);
  return found;
}

function files(): Files {
  const dir = dashboardFolder();
  const resolve = createRequire(import.meta.url).resolve;
  return {
    '/': [`${dir}index.html`, HTML],
    '/ui/app.js': [`${dir}app.js`, JS],
    '/ui/dom.js': [`${dir}dom.js`, JS],
    '/ui/style.css': [`${dir}style.css`, CSS],
    '/ui/favicon.svg': [`${dir}favicon.svg`, SVG],
    '/ui/uplot.min.js': [resolve('uplot/dist/uPlot.iife.min.js'), JS],
    '/ui/uplot.min.css': [resolve('uplot/dist/uPlot.min.css'), CSS],
  };
}

export class Dashboard {
  private table: Files | null = null;
  private readonly cache = new Map<string, Reply>();

  /** Whether `path` is the page's: `/` or anything under `/ui/`. */
  static owns(path: string): boolean {
    return path === '/' || path.startsWith('/ui/');
  }

  /** The file for `path`; a 404 naming the path for an unknown one. */
  serve(path: string): Reply {
    const hit = this.cache.get(path);
    if (hit) return hit;
    this.table ??= files();
    const entry = Object.hasOwn(this.table, path) ? this.table[path] : undefined;
    if (!entry) throw new ApiError(404, 'path', `no such file ${JSON.stringify(path)} (the page is at /)`);
    const reply: Reply = { status: 200, contentType: entry[1], body: readFileSync(entry[0]) };
    this.cache.set(path, reply);
    return reply;
  }
}

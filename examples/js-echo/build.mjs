// Builds src/echo.js into a WebAssembly component:
//   node build.mjs OUT.wasm [WIT_DIR]
// WIT_DIR defaults to the repository's wit/since_v0.2.0.
//
// This uses componentize-js's library API: the `jco componentize` command
// fails on this WIT path ("failed to get path metadata"), the library works.

import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentize } from '@bytecodealliance/componentize-js';

const here = dirname(fileURLToPath(import.meta.url));
const [out, witDir] = process.argv.slice(2);
if (!out) {
  console.error('usage: node build.mjs OUT.wasm [WIT_DIR]');
  process.exit(2);
}
const sourcePath = resolve(here, 'src/echo.js');
const outPath = resolve(out);
const witPath = resolve(witDir ?? resolve(here, '../../wit/since_v0.2.0'));
// componentize-js makes only the working folder readable to the engine that
// loads the modules (when the source is inside it): the checkout's root, so
// that echo.js can import the SDK's sdk/js/hmac-sha256.js.
process.chdir(resolve(here, '../..'));
const started = Date.now();
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName: 'switchboard:channel/channel-plugin@0.2.0',
  // Every StarlingMonkey feature that needs WASI is off but stdio (the host
  // links WASI with a deny-all context anyway). What that costs the code:
  // no fetch() (use the host's http-client), no Date.now() or timers (use
  // the host's clock), a deterministic Math.random(). stdio stays: an
  // uncaught exception traps after printing the error and its stack to
  // stderr, which the host keeps (the last 4 KiB) and quotes in the crash's
  // error; console.log goes nowhere.
  disableFeatures: ['random', 'clocks', 'http', 'fetch-event'],
});
await writeFile(outPath, component);
console.log(`built ${out}: ${component.length} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s`);

#!/usr/bin/env node
// `npm run build`: the GUI (Vite → dist/renderer) and the app's bundles (esbuild):
//   dist/main.mjs                 Electron main process (ESM; npm packages stay external, natives above all)
//   dist/preload.cjs              the sandboxed preload (CommonJS: sandboxed preloads cannot be ES modules)
//   dist/workers/plugin-host.mjs  the plugin host, a plugin's worker process (main/core/workers.ts forks it next
//                                 to main.mjs); the plugin kit it hands out (ctx.import('parley:kit')) is inside it
//   dist/workers/onnx-child.mjs   the kit's ONNX child process, which the kit forks from beside the plugin host
//   dist/headless.mjs             the headless server, bundled the same way (proves the bundles under plain Node)
// `npm run headless` runs from source (tsx) and needs only dist/renderer.
// Bundled data files are not copied: the bundles find them from the app root (APP_ROOT, one level above dist/),
// at the same paths as in the sources — main/core/assets/busy-notice.wav; electron-builder.yml ships them.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');

export async function buildRenderer() {
  const { build } = await import('vite');
  await build({ configFile: join(root, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
}

export async function buildBundles() {
  const esbuild = await import('esbuild');
  const common = { bundle: true, platform: 'node', target: 'node22', sourcemap: 'linked', logLevel: 'warning', legalComments: 'none' };
  rmSync(join(root, 'dist', 'workers'), { recursive: true, force: true });
  await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: [join(root, 'main', 'electron', 'main.ts')],
      outfile: join(root, 'dist', 'main.mjs'),
      format: 'esm',
      // Every npm package (onnxruntime-node, node-llama-cpp, @photostructure/sqlite, ws…) is loaded from
      // node_modules at run time: native binaries cannot be bundled, and electron-builder unpacks them.
      packages: 'external',
      external: ['electron'],
    }),
    esbuild.build({
      ...common,
      entryPoints: [join(root, 'main', 'electron', 'preload.ts')],
      outfile: join(root, 'dist', 'preload.cjs'),
      format: 'cjs',
      external: ['electron'],
    }),
    esbuild.build({
      ...common,
      entryPoints: [join(root, 'main', 'cli', 'headless.ts')],
      outfile: join(root, 'dist', 'headless.mjs'),
      format: 'esm',
      packages: 'external',
    }),
    esbuild.build({
      ...common,
      entryPoints: [join(root, 'main', 'core', 'plugins', 'plugin-host.ts')],
      outfile: join(root, 'dist', 'workers', 'plugin-host.mjs'),
      format: 'esm',
      packages: 'external',
    }),
    esbuild.build({
      ...common,
      entryPoints: [join(root, 'main', 'core', 'plugins', 'kit', 'onnx-child.mjs')],
      outfile: join(root, 'dist', 'workers', 'onnx-child.mjs'),
      format: 'esm',
      packages: 'external',
    }),
  ]);
}

export async function buildAll({ renderer = true, bundles = true } = {}) {
  if (renderer) await buildRenderer();
  if (bundles) await buildBundles();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const only = process.argv[2];
  const started = Date.now();
  buildAll({ renderer: only !== 'bundles', bundles: only !== 'renderer' }).then(
    () => process.stdout.write(`built ${only ?? 'renderer + bundles'} into dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`),
    (err) => {
      process.stderr.write(`build failed: ${err?.message ?? err}\n`);
      process.exit(1);
    },
  );
}

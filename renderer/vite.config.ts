// The GUI's build: `vite build --config renderer/vite.config.ts` → dist/renderer (served by parley://app in
// the desktop app and by the headless server). No inline scripts or styles: the CSP allows 'self' only.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [preact({ devToolsEnabled: false, prerender: { enabled: false } })],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'chrome120',
    // Keep the (small) assets as files: data: URLs and inline CSS would need a looser CSP.
    assetsInlineLimit: 0,
    sourcemap: true,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});

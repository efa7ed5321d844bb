/**
 * Building the GUI on demand: `npm run headless` straight after `npm install` has no dist/renderer yet. Instead
 * of answering 503 until someone runs `npm run build`, the headless server builds it with Vite (about a second,
 * a few on a slow machine) the first time it is needed; every request meanwhile waits for that one build.
 *
 * Vite is a development dependency: a packaged app (which ships its dist/renderer) never gets here, and an
 * install without it gets a message saying what to run.
 */
import { join } from 'node:path';
import { APP_ROOT } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import { RENDERER_DIR, rendererBuilt } from './static-files.ts';

export type RendererBuilder = () => Promise<void>;

/** A builder that runs Vite at most once at a time into `outDir`; a failed build may be retried by the next call. */
export function rendererBuilder(outDir = RENDERER_DIR): RendererBuilder {
  let running: Promise<void> | null = null;
  return () => {
    if (rendererBuilt(outDir)) return Promise.resolve();
    running ??= (async () => {
      let vite: typeof import('vite');
      try {
        vite = await import('vite');
      } catch (err) {
        throw new Error(`the GUI is not built and Vite is not installed (${errorMessage(err)}): run \`npm install\`, then \`npm run build\``);
      }
      await vite.build({
        configFile: join(APP_ROOT, 'renderer', 'vite.config.ts'),
        logLevel: 'error',
        build: { outDir, emptyOutDir: true },
      });
    })().finally(() => (running = null));
    return running;
  };
}

/** Start a real core (real HTTP + WebSocket server, real plugin workers) on a free port for a test. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCore, type Core, type CoreOptions } from '../../main/core/app.ts';
import { loadConfig, type Config } from '../../main/core/config.ts';
import type { CoreEvent } from '../../main/core/event-bus.ts';
import { createLogger, memorySink, type LogRecord } from '../../main/core/log.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
export const TEST_PLUGINS = resolve(here, '../fixtures/plugins');
export const AUDIO = (name: string) => resolve(here, '../fixtures/audio', name);

export interface TestCore {
  core: Core;
  url: string;
  wsUrl: string;
  logs: LogRecord[];
  events: CoreEvent[];
  dataDir: string;
  /** The control API's bearer token (generated into the data folder at start). */
  token: string;
  /** `{ authorization: 'Bearer <token>' }` for control routes. */
  auth: { authorization: string };
  stop(): Promise<void>;
}

export async function startTestCore(overrides: Partial<Config> = {}, options: CoreOptions = {}): Promise<TestCore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-test-'));
  const config = loadConfig({
    env: {},
    file: null,
    overrides: { port: 0, host: '127.0.0.1', pluginsDir: TEST_PLUGINS, dataDir, userPluginsDir: join(dataDir, 'plugins'), modelsDir: join(dataDir, 'models'),
      // No idle question or hang-up unless a test asks for it (test/core/conversation/idle.test.ts): a call that a
      // test leaves silent for a while must not gain an agent line.
      idleRepromptMs: 0, idleHangupMs: 0, ...overrides },
  });
  const sink = memorySink();
  const log = createLogger({ level: 'debug', sinks: [sink] });
  const core = createCore(config, { log, watchPlugins: false, ...options });
  const events: CoreEvent[] = [];
  core.events.onAny((e) => void events.push(e));
  const { url } = await core.start();
  // Tests measure the engine, not worker start-up: wait for the active plugins to be warm, as a running app is.
  await pluginsWarm(core);
  return {
    core,
    url,
    wsUrl: url.replace(/^http/, 'ws') + '/media',
    logs: sink.records,
    events,
    dataDir,
    token: core.config.controlToken,
    auth: { authorization: `Bearer ${core.config.controlToken}` },
    async stop() {
      await core.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Wait until every active plugin has started (or failed to): after start-up, and after a settings change, which
 * restarts the plugin's process. A call placed before that would count the process start against its timeout.
 */
export function pluginsWarm(core: Core): Promise<void> {
  return until(() => core.plugins.list().filter((p) => p.active).every((p) => p.status === 'ready' || p.status === 'failed' || p.status === 'broken'), 'plugins to warm up', 30_000);
}

/** Wait until `predicate` holds (polling), or fail with `what`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

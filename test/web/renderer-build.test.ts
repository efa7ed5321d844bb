/**
 * The headless GUI right after `npm install`: no built renderer yet. The first page request builds it with Vite
 * (once, however many requests wait) and is then served; without a builder it is the old 503 naming the fix.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachWebGui, type WebGui } from '../../main/web/gui-server.ts';
import { environmentOnlySecrets } from '../../main/web/headless-host.ts';
import { rendererBuilder } from '../../main/web/renderer-build.ts';
import { startTestCore, type TestCore } from '../helpers/core.ts';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const host = { mode: 'headless' as const, version: 'test', secrets: environmentOnlySecrets, openFolder: async () => false };

describe('the headless GUI builds itself when it is not built', () => {
  let t: TestCore;
  let gui: WebGui;
  const outDir = join(mkdtempSync(join(tmpdir(), 'parley-unbuilt-')), 'renderer');

  beforeAll(async () => {
    t = await startTestCore();
    gui = attachWebGui(t.core, { token: () => t.core.config.controlToken, rendererDir: outDir, host, build: rendererBuilder(outDir) });
  });
  afterAll(async () => {
    gui?.close();
    await t?.stop();
    rmSync(join(outDir, '..'), { recursive: true, force: true });
  });

  it('answers the first request with the built GUI, building it once', async () => {
    expect(existsSync(join(outDir, 'index.html'))).toBe(false);
    const [a, b] = await Promise.all([get(`${t.url}/`), get(`${t.url}/index.html`)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body).toMatch(/<script[^>]+src="\.\/assets\/[^"]+\.js"/);
    const asset = /src="\.\/assets\/([^"]+\.js)"/.exec(a.body)![1]!;
    expect((await get(`${t.url}/assets/${asset}`)).status).toBe(200);
  }, 120_000);

  it('without a builder, an unbuilt GUI is a 503 that says what to run', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'parley-unbuilt-'));
    const t2 = await startTestCore();
    const g2 = attachWebGui(t2.core, { token: () => t2.core.config.controlToken, rendererDir: empty, host });
    try {
      const r = await get(`${t2.url}/`);
      expect(r.status).toBe(503);
      expect(r.body).toContain('npm run build');
    } finally {
      g2.close();
      await t2.stop();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

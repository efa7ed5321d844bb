import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeHub, randomBody, serveBytes, sha256 } from './http-fixture.ts';

const CLI = fileURLToPath(new URL('../../../main/cli/models.ts', import.meta.url));
const BODY = randomBody(200 * 1024);

let hub: FakeHub;
let root: string;
let pluginsDir: string;
let modelsDir: string;

/** Run the CLI as `npm run models` would, asynchronously so the in-process server keeps answering. */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // The developer's own folders must not leak into the run.
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PARLEY_PLUGINS_DIR;
  delete env.PARLEY_MODELS_DIR;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args, '--plugins-dir', pluginsDir, '--models-dir', modelsDir], { env, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  hub = await new FakeHub().start();
  hub.route('/resolve/main/encoder.onnx', (_req, res) => void res.writeHead(302, { location: '/cdn/encoder.onnx' }).end());
  hub.route('/cdn/encoder.onnx', (req, res) => serveBytes(req, res, BODY, { delayMs: 2 }));
  root = await mkdtemp(join(tmpdir(), 'parley-models-cli-'));
  pluginsDir = join(root, 'plugins');
  modelsDir = join(root, 'models');
  const plugin = join(pluginsDir, 'tiny-stt');
  await mkdir(plugin, { recursive: true });
  await writeFile(join(plugin, 'index.js'), 'export async function create() { return {}; }\n');
  await writeFile(
    join(plugin, 'manifest.json'),
    JSON.stringify({
      name: 'tiny-stt',
      kind: 'stt',
      version: '1.0.0',
      apiVersion: 1,
      main: 'index.js',
      description: 'test plugin',
      models: [
        { id: 'tiny.en', default: true, size: BODY.length, files: [{ path: 'onnx/encoder.onnx', url: `${hub.url}/resolve/main/encoder.onnx`, sha256: sha256(BODY) }] },
        { id: 'gone.en', files: [{ path: 'model.bin', url: `${hub.url}/resolve/main/nothing.bin` }] },
      ],
    }),
  );
  await mkdir(join(pluginsDir, 'broken'), { recursive: true });
  await writeFile(join(pluginsDir, 'broken', 'manifest.json'), '{ "name": "broken", ');
});
afterAll(async () => {
  await hub.stop();
  await rm(root, { recursive: true, force: true });
});

describe('npm run models', () => {
  it('lists, pulls and verifies a model; reports a broken manifest and skips it', async () => {
    const before = await cli('list');
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/tiny\.en \*\s+tiny-stt\s+stt\s+205 KB\s+not installed/);
    expect(before.stdout).toMatch(/gone\.en\s+tiny-stt\s+stt\s+\?\s+not installed/);
    expect(before.stderr).toContain(`warning: skipped ${join(pluginsDir, 'broken')}`);
    expect(before.stderr).toContain('not valid JSON');

    const pull = await cli('pull', 'tiny.en');
    expect(pull.stderr).not.toContain('error');
    expect(pull.code).toBe(0);
    // Not a terminal: plain lines, no carriage-return redraws.
    expect(pull.stdout).not.toContain('\r');
    expect(pull.stdout).toContain('tiny.en: downloading');
    expect(pull.stdout).toContain(`tiny.en: installed in ${join(modelsDir, 'tiny.en')}`);
    expect((await readFile(join(modelsDir, 'tiny.en', 'onnx', 'encoder.onnx'))).equals(BODY)).toBe(true);

    const verify = await cli('verify');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('tiny.en/onnx/encoder.onnx: ok (sha256 from the manifest)');
    expect(verify.stdout).toContain('tiny.en: ok');

    const after = await cli('list');
    expect(after.stdout).toMatch(/tiny\.en \*.*installed, verified/);

    const bytes = await readFile(join(modelsDir, 'tiny.en', 'onnx', 'encoder.onnx'));
    bytes[0] = bytes[0]! ^ 1;
    await writeFile(join(modelsDir, 'tiny.en', 'onnx', 'encoder.onnx'), bytes);
    const bad = await cli('verify', 'tiny.en');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('MISMATCH');
    expect(bad.stderr).toContain(`expected ${sha256(BODY)}`);
  }, 20_000);

  it('fails a pull it cannot download with the copy-by-hand path, and rejects bad usage', async () => {
    const failed = await cli('pull', 'gone.en');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`Could not download gone.en/model.bin from ${hub.url}/resolve/main/nothing.bin (HTTP 404 Not Found)`);
    expect(failed.stderr).toContain(`Copy the file by hand to ${join(modelsDir, 'gone.en', 'model.bin')}`);

    const unknown = await cli('pull', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No plugin offers a model called "nope"');

    const usage = await cli('frobnicate');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('Usage: npm run models');
  }, 20_000);
});

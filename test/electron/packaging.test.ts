/**
 * What can be checked about packaging without the Electron binary: electron-builder.yml passes
 * electron-builder's own schema validation; it ships the bundles and the GUI, unpacks the native modules,
 * copies the built-in plugins, and never ships models or tests; package.json points Electron at the bundle.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(text: string): unknown };
const config = yaml.load(readFileSync(join(root, 'electron-builder.yml'), 'utf8')) as Record<string, any>;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

describe('electron-builder.yml', () => {
  it('passes electron-builder’s schema validation', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as { validateConfiguration(c: unknown, log: unknown): Promise<void> };
    const quiet = { isEnabled: false, add() {} };
    await expect(validateConfiguration(config, quiet)).resolves.toBeUndefined();
    // …and would catch a mistake:
    await expect(validateConfiguration({ ...config, asarUnpackk: ['x'] }, quiet)).rejects.toThrow(/asarUnpackk/);
  });

  it('targets Linux AppImage + deb, macOS dmg, Windows nsis', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.win.target).toEqual(['nsis']);
  });

  it('ships the bundles and the GUI, unpacks native modules, never rebuilds them', () => {
    expect(config.files).toEqual(expect.arrayContaining(['dist/main.mjs', 'dist/preload.cjs', 'dist/workers/**', 'dist/renderer/**']));
    expect(config.files.some((f: string) => /models|test/.test(f) && !f.startsWith('!'))).toBe(false);
    for (const native of ['onnxruntime-node', 'node-llama-cpp', '@node-llama-cpp', '@photostructure/sqlite']) {
      expect(config.asarUnpack.some((p: string) => p.includes(`node_modules/${native}/`)), native).toBe(true);
      expect(pkg.dependencies[native] ?? (native === '@node-llama-cpp' ? 'optional' : undefined), native).toBeDefined();
    }
    expect(config.npmRebuild).toBe(false);
    expect(config.extraResources).toEqual([expect.objectContaining({ from: 'plugins', to: 'plugins' })]);
  });

  it('package.json runs the ESM main bundle, with `npm run dist`', () => {
    expect(pkg.main).toBe('dist/main.mjs');
    expect(pkg.scripts.dist).toMatch(/scripts\/build\.mjs && electron-builder --config electron-builder\.yml/);
    // electron is a devDependency (electron-builder refuses it in dependencies) and pins the version it packages.
    expect(pkg.devDependencies.electron).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.dependencies.electron).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import type { PluginManifest } from '../../../main/core/plugins/api.ts';
import { buildCatalog } from '../../../main/core/models/catalog.ts';

function manifest(name: string, models: PluginManifest['models']): PluginManifest {
  return { name, kind: 'tts', version: '1.0.0', apiVersion: 1, main: 'index.js', description: '', settings: {}, models };
}

describe('buildCatalog', () => {
  it('lists every model with its plugin, kind, default flag and size', () => {
    const { entries, problems } = buildCatalog([
      {
        manifest: manifest('piper-tts', [
          { id: 'piper-a', default: true, files: [{ path: 'a.onnx', url: 'https://h/a.onnx', size: 10 }, { path: 'a.onnx.json', url: 'https://h/a.json', size: 2 }] },
          { id: 'piper-b', size: 99, files: [{ path: 'b.onnx', url: 'https://h/b.onnx' }] },
          { id: 'piper-c', files: [{ path: 'c.onnx', url: 'https://h/c.onnx' }] },
        ]),
      },
    ]);
    expect(problems).toEqual([]);
    expect(entries.map((e) => [e.id, e.plugin, e.kind, e.isDefault, e.size])).toEqual([
      ['piper-a', 'piper-tts', 'tts', true, 12],
      ['piper-b', 'piper-tts', 'tts', false, 99],
      ['piper-c', 'piper-tts', 'tts', false, null],
    ]);
  });

  it('keeps the first plugin for a shared id and reports a conflicting copy', () => {
    const files = [{ path: 'm.onnx', url: 'https://h/m.onnx' }];
    const { entries, problems } = buildCatalog([
      { manifest: manifest('melo-tts', [{ id: 'melo-en', files }]) },
      { manifest: manifest('melo-copy', [{ id: 'melo-en', files }]) },
      { manifest: manifest('melo-fork', [{ id: 'melo-en', files: [{ path: 'other.onnx', url: 'https://h/o.onnx' }] }]) },
    ]);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.plugin).toBe('melo-tts');
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toContain('melo-fork');
  });
});

/**
 * The plugin conformance suite: every built-in plugin (on tiny models made here, with its real runtime) and
 * every test plugin passes the same checks of the public contract — the checks a third party's plugin must pass.
 *
 *  - folder: a valid manifest, a README for built-ins, nothing imported from outside the folder
 *  - host: created in a worker process (the plugin host) exactly as the app does, and answers with the right shapes
 *  - streaming: LLM text and TTS audio arrive in pieces, the first before the last is made
 *  - abort: a call stops with an AbortError within 100 ms of its signal
 *  - errors: a missing model is MODEL_MISSING with the pull command, not a stack trace
 *  - dispose: the worker (and any child process of the plugin) is gone afterwards
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlmInstance, PluginInstance, PluginKind, SttInstance, TtsInstance, TurnInstance } from '../../main/core/plugins/api.ts';
import { readManifest, effectiveSettings } from '../../main/core/plugins/manifest.ts';
import { PluginProxy } from '../../main/core/plugins/plugin-proxy.ts';
import { createLogger } from '../../main/core/log.ts';
import { resample } from '../../main/core/audio/resample.ts';
import { readWav } from '../../main/core/audio/wav.ts';
import { foreignImports, importPlugin, makePluginContext, pluginFolder } from '../helpers/plugin-context.ts';
import { writeTinyLlamaGguf } from '../helpers/gguf-writer.ts';
import { writeTinyWhisper } from '../helpers/tiny-whisper.ts';
import { writeTinyMoonshine } from '../helpers/tiny-moonshine.ts';
import { writeMeloModel, writePiperVoice } from '../helpers/tiny-tts-models.ts';
import { AUDIO, TEST_PLUGINS } from '../helpers/core.ts';

interface Subject {
  name: string;
  dir: string;
  kind: PluginKind;
  builtin: boolean;
  /** Settings that make it runnable here (tiny models). */
  settings: () => Record<string, unknown>;
}

const work = mkdtempSync(join(tmpdir(), 'parley-conformance-'));
const models: Record<string, string> = {};

const SUBJECTS: Subject[] = [
  { name: 'whisper-stt', dir: pluginFolder('whisper-stt'), kind: 'stt', builtin: true, settings: () => ({ model: models.whisper }) },
  { name: 'moonshine-stt', dir: pluginFolder('moonshine-stt'), kind: 'stt', builtin: true, settings: () => ({ model: models.moonshine }) },
  { name: 'llama-llm', dir: pluginFolder('llama-llm'), kind: 'llm', builtin: true, settings: () => ({ model: models.gguf, threads: 1, gpu: false, maxTokens: 24 }) },
  { name: 'melo-tts', dir: pluginFolder('melo-tts'), kind: 'tts', builtin: true, settings: () => ({ model: models.melo }) },
  { name: 'piper-tts', dir: pluginFolder('piper-tts'), kind: 'tts', builtin: true, settings: () => ({ model: models.piper }) },
  { name: 'test-stt', dir: join(TEST_PLUGINS, 'test-stt'), kind: 'stt', builtin: false, settings: () => ({ delayMs: 300 }) },
  { name: 'test-llm', dir: join(TEST_PLUGINS, 'test-llm'), kind: 'llm', builtin: false, settings: () => ({ tokenDelayMs: 5 }) },
  { name: 'test-tts', dir: join(TEST_PLUGINS, 'test-tts'), kind: 'tts', builtin: false, settings: () => ({ realtimeFactor: 0.2 }) },
  { name: 'test-turn', dir: join(TEST_PLUGINS, 'test-turn'), kind: 'turn', builtin: false, settings: () => ({ delayMs: 300, complete: 0.75 }) },
];

const speech = () => {
  const w = readWav(AUDIO('jfk.wav'));
  return resample(w.samples, w.sampleRate, 16000).slice(0, 16000 * 3);
};
const MESSAGES = [
  { role: 'system' as const, content: 'You are a helpful phone assistant.' },
  { role: 'user' as const, content: 'Hello, what time do you open tomorrow?' },
];
const TEXT = 'Hello there. We open at nine tomorrow morning. Is there anything else?';

/** Run one call of the plugin's kind; returns the items (deltas / chunks / the transcript). */
async function exercise(kind: PluginKind, instance: PluginInstance, signal: AbortSignal, onItem?: () => void): Promise<unknown[]> {
  if (kind === 'stt') return [await (instance as SttInstance).transcribe({ samples: speech(), sampleRate: 16000 }, { signal })];
  if (kind === 'turn') return [await (instance as TurnInstance).predict({ samples: speech(), sampleRate: 16000 }, { signal })];
  const items: unknown[] = [];
  const stream = kind === 'llm' ? (instance as LlmInstance).chat(MESSAGES, { signal }) : (instance as TtsInstance).synthesize(TEXT, { signal });
  for await (const item of stream) {
    items.push(item);
    onItem?.();
  }
  return items;
}

beforeAll(async () => {
  models.whisper = join(work, 'whisper-tiny');
  writeTinyWhisper(models.whisper);
  models.moonshine = join(work, 'moonshine-tiny');
  writeTinyMoonshine(models.moonshine);
  models.gguf = join(work, 'tiny.gguf');
  writeTinyLlamaGguf(models.gguf);
  models.melo = (await writeMeloModel(join(work, 'melo'))).dir;
  models.piper = (await writePiperVoice(join(work, 'piper'))).onnx;
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(SUBJECTS)('$name ($kind) conformance', (subject) => {
  it('is a valid, self-contained plugin folder', async () => {
    const manifest = await readManifest(subject.dir);
    expect(manifest.name).toBe(subject.name);
    expect(manifest.kind).toBe(subject.kind);
    expect(foreignImports(subject.dir)).toEqual([]);
    if (subject.builtin) {
      expect(existsSync(join(subject.dir, 'README.md'))).toBe(true);
      expect(manifest.settings.model?.type).toBe('path');
      expect(manifest.models.filter((m) => m.default)).toHaveLength(1);
    }
  });

  it('runs in a host worker process exactly as the app runs it, with the contract shapes, streamed', async () => {
    const manifest = await readManifest(subject.dir);
    const worker = new PluginProxy(
      { name: manifest.name, kind: manifest.kind, dir: subject.dir, main: manifest.main, settings: effectiveSettings(manifest, subject.settings()), modelDir: join(work, 'models') },
      createLogger({ sinks: [] }),
    );
    try {
      await worker.start();
      const arrivals: number[] = [];
      const items = await exercise(subject.kind, worker as unknown as PluginInstance, new AbortController().signal, () => arrivals.push(performance.now()));
      if (subject.kind === 'stt') {
        expect(items[0]).toEqual({ text: expect.any(String) });
      } else if (subject.kind === 'turn') {
        expect(items[0]).toEqual({ complete: expect.any(Number) });
        expect((items[0] as { complete: number }).complete).toBeGreaterThanOrEqual(0);
        expect((items[0] as { complete: number }).complete).toBeLessThanOrEqual(1);
      } else if (subject.kind === 'llm') {
        expect(items.length).toBeGreaterThanOrEqual(2);
        for (const d of items) expect(typeof d).toBe('string');
        expect((items as string[]).join('').length).toBeGreaterThan(0);
      } else {
        expect(items.length).toBeGreaterThanOrEqual(2);
        for (const c of items as { samples: unknown; sampleRate: unknown }[]) {
          expect(c.samples).toBeInstanceOf(Float32Array);
          expect(Number.isInteger(c.sampleRate)).toBe(true);
          expect((c.samples as Float32Array).every((v) => Number.isFinite(v) && Math.abs(v) <= 1.5)).toBe(true);
        }
      }
      if (subject.kind !== 'stt' && subject.kind !== 'turn') expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(0);
    } finally {
      await worker.dispose();
    }
    expect(worker.state).toBe('disposed');
  });

  it('stops with an AbortError within 100 ms of its signal, and refuses an already-aborted one', async () => {
    const ctx = await makePluginContext({ pluginDir: subject.dir, settings: subject.settings(), modelDir: join(work, 'models') });
    const instance = (await (await importPlugin(subject.dir)).create(ctx)) as PluginInstance;
    /** One aborted call: how long after the abort it stopped, or null when it finished before the abort landed. */
    const attempt = async (): Promise<number | null> => {
      const controller = new AbortController();
      let abortedAt = 0;
      const abort = () => {
        if (abortedAt) return;
        abortedAt = performance.now();
        controller.abort();
      };
      // Abort mid-work: at the first streamed item, or shortly after a transcription starts.
      const single = subject.kind === 'stt' || subject.kind === 'turn';
      if (single) setTimeout(abort, 5);
      const outcome = await exercise(subject.kind, instance, controller.signal, abort).then(
        () => null,
        (err: Error) => err,
      );
      if (outcome === null && single) return null;
      expect(outcome?.name).toBe('AbortError');
      return performance.now() - abortedAt;
    };
    try {
      // A plugin that honours the signal stops well inside 100 ms; the best of three attempts keeps a busy CI
      // machine's scheduling hiccups from failing one that does, while one that ignores it fails every time.
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = await attempt();
        if (t !== null) times.push(t);
        if (t !== null && t < 100) break;
      }
      if (times.length) expect(Math.min(...times)).toBeLessThan(100);
      const pre = new AbortController();
      pre.abort();
      await expect(exercise(subject.kind, instance, pre.signal)).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      await instance.dispose?.();
    }
  });

  it.runIf(subject.builtin)('reports a missing model as MODEL_MISSING with the pull command', async () => {
    const ctx = await makePluginContext({ pluginDir: subject.dir, settings: { ...subject.settings(), model: '' }, modelDir: join(work, 'empty-models') });
    const err = await (await importPlugin(subject.dir)).create(ctx).then(
      (i) => {
        void i.dispose?.();
        return null;
      },
      (e: Error & { code?: string }) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.code).toBe('MODEL_MISSING');
    expect(err!.message).toMatch(/npm run models -- pull [\w.-]+/);
  });
});

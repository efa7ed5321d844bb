/**
 * STT section of `npm run bench -- plugins --standin`: whisper-tiny.en and moonshine-tiny stand-ins (random q8
 * weights, the real shapes: stt-models.ts) run through the real plugins in their worker processes, as
 * bench/plugins.ts drives a plugin, on real speech (test/fixtures/audio/jfk.wav cut to 1, 3 and 8 s).
 *
 * Each utterance length has its own model folder, because the stand-in decoder's text length is fixed per file
 * (3 tokens per second of speech for both models, so decode costs compare). Per row: one warm-up, then the median
 * of RUNS, the real-time factor and the worker's resident memory.
 *
 * Threads: PARLEY_STANDIN_THREADS, else min(4, cores) — explicit, so both models get the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SttInstance } from '../../main/core/plugins/api.ts';
import { PluginProxy } from '../../main/core/plugins/plugin-proxy.ts';
import { createLogger } from '../../main/core/log.ts';
import { effectiveSettings } from '../../main/core/plugins/manifest.ts';
import { scanPlugins } from '../../main/core/plugins/loader.ts';
import { DEFAULT_PLUGINS } from '../../main/core/plugins/registry.ts';
import { readWav } from '../../main/core/audio/wav.ts';
import { STANDIN_LABEL, type StandinSection } from './types.ts';
import { tokensFor, writeMoonshineTiny, writeWhisperTinyEn, type SttStandinFolder } from './stt-models.ts';
import { childRssBytes } from '../proc.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECONDS = [1, 3, 8];
const RUNS = 5;

const MODELS = [
  { model: 'whisper-tiny.en', plugin: 'whisper-stt', write: writeWhisperTinyEn },
  { model: 'moonshine-tiny', plugin: 'moonshine-stt', write: writeMoonshineTiny },
] as const;


const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface SttRow {
  model: string;
  seconds: number;
  tokens: number;
  ms?: number;
  rtf?: number;
  rssMb?: number;
  text?: string;
  reason?: string;
}

export async function measureSttStandins(log: (line: string) => void, threads: number): Promise<SttRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'parley-stt-standins-'));
  const speech = readWav(join(ROOT, 'test', 'fixtures', 'audio', 'jfk.wav')).samples;
  const { plugins } = await scanPlugins(join(ROOT, 'plugins'), null);
  const logger = createLogger({ level: 'warn', sinks: [(r) => log(`  [${r.level}] ${r.msg}`)] });
  const rows: SttRow[] = [];
  try {
    const started = performance.now();
    const folders = new Map<string, SttStandinFolder[]>(MODELS.map((m) => [m.model, m.write(join(root, m.model), SECONDS.map(tokensFor))]));
    log(`stt stand-ins written in ${Math.round(performance.now() - started)} ms to ${root}`);
    for (const m of MODELS) {
      const found = plugins.find((p) => p.manifest.name === m.plugin);
      for (const [i, seconds] of SECONDS.entries()) {
        const folder = folders.get(m.model)![i]!;
        const row: SttRow = { model: m.model, seconds, tokens: folder.tokens };
        rows.push(row);
        if (!found) {
          row.reason = `not measured: plugin missing (plugins/${m.plugin})`;
          continue;
        }
        const { manifest, dir } = found;
        const settings = effectiveSettings(manifest, { model: folder.dir, dtype: 'q8', threads }, process.cwd());
        const worker = new PluginProxy({ name: manifest.name, kind: manifest.kind, dir, main: manifest.main, settings, modelDir: root }, logger);
        try {
          await worker.start();
          const stt = worker as unknown as SttInstance;
          const samples = speech.slice(0, seconds * 16000);
          const run = async () => {
            const t = performance.now();
            const out = await stt.transcribe({ samples, sampleRate: 16000 }, { signal: new AbortController().signal });
            return { ms: performance.now() - t, text: out.text };
          };
          await run(); // warm-up: first-run allocations and kernel choices
          const times: number[] = [];
          for (let r = 0; r < RUNS; r++) {
            const out = await run();
            times.push(out.ms);
            row.text = out.text;
          }
          row.ms = median(times);
          row.rtf = row.ms / 1000 / seconds;
          row.rssMb = Math.round(childRssBytes() / 1e6);
          // An empty transcript would mean the speech guard skipped the model: then the time is not the model's.
          if (!row.text) row.reason = 'transcript empty: the speech guard may have skipped the model';
        } catch (err) {
          row.reason = `failed: ${err instanceof Error ? err.message : String(err)}`;
        } finally {
          await worker.dispose();
        }
        log(`  ${JSON.stringify(row)}`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

export async function runSttStandin(log: (line: string) => void): Promise<StandinSection> {
  const threads = Number(process.env.PARLEY_STANDIN_THREADS) || Math.min(4, availableParallelism());
  const rows = await measureSttStandins(log, threads);
  const lines = [`  ${threads} onnxruntime threads, q8, median of ${RUNS} after a warm-up; speech from jfk.wav; ${3} text tokens/s + prompt + end`];
  for (const r of rows) {
    const name = `${r.model.padEnd(16)} ${String(r.seconds).padStart(2)} s (${String(r.tokens).padStart(2)} tokens)`;
    if (r.ms === undefined) {
      lines.push(`  ${name}: ${r.reason}`);
      continue;
    }
    lines.push(`  ${name}: ${String(Math.round(r.ms)).padStart(5)} ms  RTF ${r.rtf!.toFixed(3)}  worker RSS ${r.rssMb} MB  (${STANDIN_LABEL})${r.reason ? ` — ${r.reason}` : ''}`);
  }
  const defaultModel = DEFAULT_PLUGINS.stt === 'moonshine-stt' ? 'moonshine-tiny' : 'whisper-tiny.en';
  const three = rows.find((r) => r.model === defaultModel && r.seconds === 3 && r.ms !== undefined && !r.reason);
  return { title: `STT (default ${DEFAULT_PLUGINS.stt}: ${defaultModel})`, lines, budget: three ? { sttMs: three.ms } : {} };
}

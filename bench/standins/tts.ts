/**
 * TTS section of `npm run bench -- plugins --standin`: a Piper *medium* voice stand-in (piper_standin.py: Piper's
 * VITS inference path at en_US-lessac-medium's shapes, random weights, exported with torch.onnx as Piper's
 * export_onnx.py does) run through the real piper-tts plugin in its worker process, as bench/plugins.ts drives a
 * plugin: real espeak-ng phonemes, the real phoneme_id_map, the plugin's own ONNX child process.
 *
 * Per text: one warm-up, then the median of RUNS for first audio (synthesize() called → first chunk), the
 * real-time factor (all chunks / seconds of audio the model made) and the resident memory of the worker and its
 * ONNX child. The plugin's sentence silence is set to 0 so the audio counted is the model's own output.
 *
 * The voice is generated once (python3 + Debian's python3-torch) into a temp cache folder keyed by the
 * generator's hash, and reused while it exists. Without python3/torch the section says "not measured".
 *
 * Threads: PARLEY_STANDIN_THREADS, else min(4, cores) — explicit, as in stt.ts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TtsInstance } from '../../main/core/plugins/api.ts';
import { PluginProxy } from '../../main/core/plugins/plugin-proxy.ts';
import { createLogger } from '../../main/core/log.ts';
import { effectiveSettings } from '../../main/core/plugins/manifest.ts';
import { scanPlugins } from '../../main/core/plugins/loader.ts';
import { splitClauses } from '../../main/core/plugins/kit/clauses.js';
import { piperConfig } from '../../test/helpers/tiny-tts-models.ts';
import { STANDIN_LABEL, type StandinSection } from './types.ts';
import { descendantRssBytes } from '../proc.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GENERATOR = fileURLToPath(new URL('./piper_standin.py', import.meta.url));
const RUNS = 5;
/** en_US-lessac-medium.onnx as published (plugins/piper-tts/manifest.json), for the size check. */
const REAL_ONNX_BYTES = 63_201_294;

const TEXTS = [
  { name: 'short clause', text: 'Thanks for calling, how can I help?' },
  // One piece for the plugin (no clause cut, under the splitter's 25 words): the cost of one long sentence.
  { name: 'long sentence', text: 'I have booked you in with Doctor Patel for a cleaning next Tuesday morning at half past nine so please arrive ten minutes early.' },
] as const;


const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface GeneratorInfo {
  torch?: string;
  params?: Record<string, number>;
  calibration?: { frames_per_id_target: number; frames_per_id: number };
  check?: { finite: boolean };
  total_s?: number;
}

/**
 * A python3 that imports torch and onnx: PARLEY_PYTHON, else `python3` on PATH, else Debian's /usr/bin/python3
 * (where python3-torch installs; a pyenv or venv python3 first on PATH does not see it).
 */
function findPython(): string {
  const candidates = [...new Set([process.env.PARLEY_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c))];
  const tried: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch, onnx'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return python;
    tried.push(`${python}: ${probe.error ? 'not found' : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`)}`);
  }
  throw new Error(`not measured: no python3 with torch and onnx to export the Piper stand-in (${tried.join('; ')}); on Debian: apt-get install -y python3-torch python3-onnx`);
}

/** The stand-in voice (.onnx + .onnx.json) in a cache folder; generated when missing. Throws "not measured" reasons. */
export function standinVoice(log: (line: string) => void): { onnx: string; info: GeneratorInfo; generatedMs?: number } {
  const hash = createHash('sha256').update(readFileSync(GENERATOR)).digest('hex').slice(0, 12);
  const dir = join(process.env.PARLEY_STANDIN_CACHE || join(tmpdir(), 'parley-standins'), `piper-medium-${hash}`);
  const onnx = join(dir, 'en_US-standin-medium.onnx');
  const infoFile = join(dir, 'generator.json');
  const write = () => writeFileSync(`${onnx}.json`, JSON.stringify({ ...piperConfig({ sampleRate: 22050, quality: 'medium', espeakVoice: 'en-us' }), dataset: 'random-weight stand-in (bench/standins/piper_standin.py)' }, null, 2));
  if (existsSync(onnx) && existsSync(infoFile)) {
    if (!existsSync(`${onnx}.json`)) write();
    log(`tts stand-in reused: ${onnx}`);
    return { onnx, info: JSON.parse(readFileSync(infoFile, 'utf8')) as GeneratorInfo };
  }
  const python = findPython();
  mkdirSync(dir, { recursive: true });
  const partial = join(dir, `partial-${process.pid}.onnx`);
  const started = performance.now();
  const run = spawnSync(python, [GENERATOR, partial], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 24 });
  const generatedMs = performance.now() - started;
  if (run.status !== 0 || !existsSync(partial)) {
    rmSync(partial, { force: true });
    const why = run.error ? run.error.message : (run.stderr || '').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`not measured: the Piper stand-in generator failed (${why})`);
  }
  const info = JSON.parse(run.stdout.trim().split('\n').pop()!) as GeneratorInfo;
  if (info.check && !info.check.finite) throw new Error('not measured: the Piper stand-in made non-finite audio in its own check');
  renameSync(partial, onnx);
  write();
  writeFileSync(infoFile, JSON.stringify(info, null, 2));
  log(`tts stand-in generated in ${Math.round(generatedMs)} ms: ${onnx}`);
  return { onnx, info, generatedMs };
}

export interface TtsRow {
  name: string;
  text: string;
  pieces: number;
  firstAudioMs?: number;
  totalMs?: number;
  audioSeconds?: number;
  rtf?: number;
  rssMb?: number;
  reason?: string;
}

export async function measureTtsStandin(log: (line: string) => void, threads: number, onnx: string): Promise<TtsRow[]> {
  const rows: TtsRow[] = TEXTS.map((t) => ({ ...t, pieces: splitClauses(t.text).length }));
  const { plugins } = await scanPlugins(join(ROOT, 'plugins'), null);
  const found = plugins.find((p) => p.manifest.name === 'piper-tts');
  if (!found) {
    for (const r of rows) r.reason = 'not measured: plugin missing (plugins/piper-tts)';
    return rows;
  }
  const logger = createLogger({ level: 'warn', sinks: [(r) => log(`  [${r.level}] ${r.msg}`)] });
  const { manifest, dir } = found;
  const settings = effectiveSettings(manifest, { model: onnx, threads, sentenceSilence: 0 }, process.cwd());
  const worker = new PluginProxy({ name: manifest.name, kind: manifest.kind, dir, main: manifest.main, settings, modelDir: tmpdir() }, logger);
  try {
    await worker.start();
    const tts = worker as unknown as TtsInstance;
    const run = async (text: string) => {
      const started = performance.now();
      let first = -1;
      let samples = 0;
      let rate = 0;
      for await (const chunk of tts.synthesize(text, { signal: new AbortController().signal })) {
        if (first < 0) first = performance.now() - started;
        samples += chunk.samples.length;
        rate = chunk.sampleRate;
      }
      return { first, total: performance.now() - started, seconds: rate > 0 ? samples / rate : 0 };
    };
    for (const row of rows) {
      try {
        await run(row.text); // warm-up: this text's shapes' first allocations
        const firsts: number[] = [];
        const rtfs: number[] = [];
        const totals: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          const out = await run(row.text);
          if (!(out.seconds > 0)) throw new Error('the voice made no audio');
          firsts.push(out.first);
          totals.push(out.total);
          rtfs.push(out.total / 1000 / out.seconds);
          row.audioSeconds = out.seconds;
        }
        row.firstAudioMs = median(firsts);
        row.totalMs = median(totals);
        row.rtf = median(rtfs);
        row.rssMb = Math.round(descendantRssBytes() / 1e6);
      } catch (err) {
        row.reason = `failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      log(`  ${JSON.stringify(row)}`);
    }
  } catch (err) {
    for (const r of rows) r.reason ??= `failed: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    await worker.dispose();
  }
  return rows;
}

export async function runTtsStandin(log: (line: string) => void): Promise<StandinSection> {
  const title = 'TTS (default piper-tts: a Piper medium voice, en_US-lessac-medium shapes)';
  const threads = Number(process.env.PARLEY_STANDIN_THREADS) || Math.min(4, availableParallelism());
  let voice: ReturnType<typeof standinVoice>;
  try {
    voice = standinVoice(log);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return { title, lines: [`  piper medium: ${msg.startsWith('not measured') ? msg : `not measured: ${msg}`}`], budget: {} };
  }
  const rows = await measureTtsStandin(log, threads, voice.onnx);
  const { info } = voice;
  const mb = statSync(voice.onnx).size / 1e6;
  const lines = [
    `  ${threads} onnxruntime threads (plugin settings: graph optimizations off, as Piper), median of ${RUNS} after a warm-up; espeak-ng en-us phonemes; sentence silence 0`,
    `  voice: ${((info.params?.total ?? 0) / 1e6).toFixed(2)} M parameters, ${mb.toFixed(1)} MB .onnx (the real en_US-lessac-medium.onnx: ${(REAL_ONNX_BYTES / 1e6).toFixed(1)} MB); ` +
      `durations set to ${info.calibration?.frames_per_id ?? '?'} frames per phoneme id (torch ${info.torch ?? '?'})`,
  ];
  for (const r of rows) {
    const name = `${r.name.padEnd(13)} (${String(r.text.split(/\s+/).length).padStart(2)} words, ${r.pieces} piece${r.pieces === 1 ? '' : 's'})`;
    if (r.firstAudioMs === undefined) {
      lines.push(`  ${name}: ${r.reason}`);
      continue;
    }
    lines.push(
      `  ${name}: first audio ${String(Math.round(r.firstAudioMs)).padStart(5)} ms  RTF ${r.rtf!.toFixed(3)}  ${r.audioSeconds!.toFixed(2)} s of audio  worker+ONNX RSS ${r.rssMb} MB  (${STANDIN_LABEL})`,
    );
  }
  const short = rows[0]!;
  return { title, lines, budget: short.firstAudioMs !== undefined ? { ttsFirstAudioMs: short.firstAudioMs } : {} };
}

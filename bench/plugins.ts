/**
 * `npm run bench -- plugins`: for every plugin whose model is installed, load time, memory and the speed that
 * matters on a call — STT real-time factor, LLM time to first token and tokens/s, TTS time to first audio and
 * real-time factor. Targets (4-core laptop, default models): STT RTF ≤ 0.15, LLM first token ≤ 300 ms, TTS first
 * audio ≤ 250 ms. Plugins run through the real host (a worker process each, as in the app), so the numbers include
 * what the app adds; a missing model is reported as skipped with the plugin's own message (how to pull it).
 *
 * Standalone: `npx tsx bench/plugins.ts [--plugins dir]... [--models dir] [--set plugin.setting=value]...`
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { LlmInstance, PluginInstance, SttInstance, TtsInstance } from '../main/core/plugins/api.ts';
import { PluginProxy } from '../main/core/plugins/plugin-proxy.ts';
import { createLogger } from '../main/core/log.ts';
import { effectiveSettings } from '../main/core/plugins/manifest.ts';
import { scanPlugins } from '../main/core/plugins/loader.ts';
import { parseSets } from '../main/core/config.ts';
import { readWav } from '../main/core/audio/wav.ts';
import { childRssBytes } from './proc.ts';

export interface BenchOptions {
  pluginsDirs: string[];
  modelDir: string;
  /** Per plugin: user settings, e.g. { 'llama-llm': { threads: 4 } }. */
  settings?: Record<string, Record<string, unknown>>;
  /** 16 kHz mono speech for STT; defaults to test/fixtures/audio/jfk.wav (11 s). */
  speech?: Float32Array;
  onProgress?: (line: string) => void;
}

export interface PluginBench {
  plugin: string;
  kind: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  loadMs?: number;
  /** Resident memory added by creating the instance (this process plus its child processes, Linux only). */
  memoryMb?: number;
  stt?: { clips: { seconds: number; ms: number; rtf: number }[]; worstRtf: number; text: string };
  llm?: { firstTokenMs: number; cachedFirstTokenMs: number; tokensPerSecond: number; deltas: number };
  tts?: { firstAudioMs: number; rtf: number; audioSeconds: number };
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));


function rss(): number {
  return process.memoryUsage().rss + childRssBytes();
}

const live = () => new AbortController().signal;

async function benchStt(stt: SttInstance, speech: Float32Array): Promise<NonNullable<PluginBench['stt']>> {
  const clips: { seconds: number; ms: number; rtf: number }[] = [];
  let text = '';
  // Phone turns are short: Whisper's fixed 30 s window makes short clips the hardest case for RTF.
  for (const seconds of [2, 5, speech.length / 16000]) {
    const samples = speech.slice(0, Math.round(seconds * 16000));
    const started = performance.now();
    const out = await stt.transcribe({ samples, sampleRate: 16000 }, { signal: live() });
    const ms = performance.now() - started;
    clips.push({ seconds: Number(seconds.toFixed(2)), ms: Math.round(ms), rtf: Number((ms / 1000 / seconds).toFixed(3)) });
    text = out.text;
  }
  return { clips, worstRtf: Math.max(...clips.map((c) => c.rtf)), text };
}

async function firstTokenAndRate(llm: LlmInstance, messages: Parameters<LlmInstance['chat']>[0], maxDeltas: number) {
  const started = performance.now();
  let first = -1;
  let deltas = 0;
  let text = '';
  for await (const delta of llm.chat(messages, { signal: live() })) {
    if (first < 0) first = performance.now() - started;
    text += delta;
    if (++deltas >= maxDeltas) break;
  }
  const seconds = (performance.now() - started - first) / 1000;
  return { first, deltas, text, rate: deltas > 1 && seconds > 0 ? (deltas - 1) / seconds : 0 };
}

async function benchLlm(llm: LlmInstance): Promise<NonNullable<PluginBench['llm']>> {
  const history = [
    { role: 'system' as const, content: 'You answer the phone for a small bakery. Keep every answer to one or two short sentences.' },
    { role: 'user' as const, content: 'Hi, are you open on Sunday?' },
  ];
  const turn1 = await firstTokenAndRate(llm, history, 64);
  // The second turn extends the first: the KV cache should make its first token cheaper.
  const turn2 = await firstTokenAndRate(llm, [...history, { role: 'assistant', content: turn1.text }, { role: 'user', content: 'Great, and until what time?' }], 64);
  return { firstTokenMs: Math.round(turn1.first), cachedFirstTokenMs: Math.round(turn2.first), tokensPerSecond: Number(turn2.rate.toFixed(1)), deltas: turn1.deltas + turn2.deltas };
}

async function benchTts(tts: TtsInstance): Promise<NonNullable<PluginBench['tts']>> {
  const started = performance.now();
  let first = -1;
  let samples = 0;
  let rate = 0;
  for await (const chunk of tts.synthesize('Thanks for calling. We are open from nine to five on weekdays.', { signal: live() })) {
    if (first < 0) first = performance.now() - started;
    samples += chunk.samples.length;
    rate = chunk.sampleRate;
  }
  const audioSeconds = rate > 0 ? samples / rate : 0;
  const total = (performance.now() - started) / 1000;
  return { firstAudioMs: Math.round(first), rtf: audioSeconds > 0 ? Number((total / audioSeconds).toFixed(3)) : 0, audioSeconds: Number(audioSeconds.toFixed(2)) };
}

export async function benchPlugins(options: BenchOptions): Promise<PluginBench[]> {
  const log = options.onProgress ?? (() => {});
  const speech = options.speech ?? readWav(join(ROOT, 'test', 'fixtures', 'audio', 'jfk.wav')).samples;
  const results: PluginBench[] = [];
  const logger = createLogger({ level: 'info', sinks: [(r) => log(`  [${r.level}] ${r.msg}`)] });
  for (const root of options.pluginsDirs) {
    const { plugins, problems } = await scanPlugins(root, null);
    for (const p of problems) results.push({ plugin: p.dir, kind: '?', status: 'failed', reason: p.message });
    for (const found of plugins) {
      const { manifest, dir } = found;
      const result: PluginBench = { plugin: manifest.name, kind: manifest.kind, status: 'ok' };
      results.push(result);
      log(`${manifest.name} (${manifest.kind})`);
      // Through the real host, as the app runs it: a worker process per plugin, the same ctx, the same IPC.
      const settings = effectiveSettings(manifest, options.settings?.[manifest.name] ?? {}, process.cwd());
      const worker = new PluginProxy({ name: manifest.name, kind: manifest.kind, dir, main: manifest.main, settings, modelDir: options.modelDir }, logger);
      try {
        const before = rss();
        const started = performance.now();
        await worker.start();
        result.loadMs = Math.round(performance.now() - started);
        const instance = worker as unknown as PluginInstance;
        if (manifest.kind === 'stt') result.stt = await benchStt(instance as SttInstance, speech);
        else if (manifest.kind === 'llm') result.llm = await benchLlm(instance as LlmInstance);
        else result.tts = await benchTts(instance as TtsInstance);
        result.memoryMb = Math.round((rss() - before) / 1e6);
      } catch (err) {
        const e = err as Error & { code?: string };
        result.status = e.code === 'MODEL_MISSING' ? 'skipped' : 'failed';
        result.reason = e.message;
      } finally {
        await worker.dispose();
      }
      log(`  ${JSON.stringify(result)}`);
    }
  }
  return results;
}

/** `npm run bench -- plugins [--plugins DIR]... [--models DIR] [--set plugin.setting=value]...` */
export async function runPluginBenchCli(args: string[]): Promise<PluginBench[]> {
  const pluginsDirs: string[] = [];
  const sets: string[] = [];
  let modelDir = process.env.PARLEY_MODELS_DIR || join(ROOT, 'models');
  let tiny = false;
  if (args[0] === '--standin') {
    // Random-weight models of the defaults' exact shapes (bench/standins): the real models' cost here.
    const { runStandinBench } = await import('./standins/index.ts');
    const only = args[1] && !args[1].startsWith('--') ? args[1].split(',') : undefined;
    console.log((await runStandinBench({ only })).text);
    return [];
  }
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--plugins') pluginsDirs.push(args[++i]!);
    else if (args[i] === '--models') modelDir = args[++i]!;
    else if (args[i] === '--set') sets.push(args[++i]!);
    else if (args[i] === '--tiny') tiny = true;
    else throw new Error(`unknown option ${args[i]} (--plugins DIR, --models DIR, --set plugin.setting=value, --tiny; or --standin [llm,stt,tts] alone)`);
  }
  const settings = parseSets(sets);
  if (tiny) {
    // The tiny stand-in models the tests use (same files, names and tensor interfaces as the real ones): what
    // this measures is the plugins' own overhead on this machine, not the real models' speed.
    const { tinyModels } = await import('./tiny-models.ts');
    for (const [plugin, values] of Object.entries(await tinyModels())) settings[plugin] = { ...values, ...settings[plugin] };
  }
  const results = await benchPlugins({ pluginsDirs: pluginsDirs.length ? pluginsDirs : [join(ROOT, 'plugins')], modelDir, settings, onProgress: (l) => console.log(l) });
  console.table(results.map((r) => ({ plugin: r.plugin, status: r.status, reason: r.reason, loadMs: r.loadMs, memoryMb: r.memoryMb, ...(r.stt ? { sttWorstRtf: r.stt.worstRtf } : {}), ...(r.llm ? { firstTokenMs: r.llm.firstTokenMs, cachedFirstTokenMs: r.llm.cachedFirstTokenMs, tokensPerSecond: r.llm.tokensPerSecond } : {}), ...(r.tts ? { firstAudioMs: r.tts.firstAudioMs, ttsRtf: r.tts.rtf } : {}) })));
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runPluginBenchCli(process.argv.slice(2));
}

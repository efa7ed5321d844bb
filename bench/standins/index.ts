/**
 * `npm run bench -- plugins --standin`: the default models' real compute on this machine, from random-weight
 * stand-ins of their exact shapes (types.ts), then the voice-to-voice budget those costs give.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STANDIN_LABEL, type StandinBudget, type StandinRunner, type StandinSection } from './types.ts';

/** Each section lives in its own file (llm.ts, stt.ts, tts.ts) exporting `run<Name>Standin`; a missing one is reported as not measured. */
const SECTIONS = ['llm', 'stt', 'tts'].map((name) => ({
  name,
  load: async (): Promise<StandinRunner> => {
    const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
    if (!existsSync(file)) throw new Error(`no stand-in for this part yet (bench/standins/${name}.ts)`);
    const mod = (await import(file)) as Record<string, StandinRunner>;
    return mod[`run${name[0]!.toUpperCase()}${name.slice(1)}Standin`]!;
  },
}));

/** Targets on a 4-core laptop (README). */
export const LAPTOP_TARGETS = { sttRtf: 0.15, llmFirstTokenMs: 300, ttsFirstAudioMs: 250 };

export async function runStandinBench(options: { only?: string[]; log?: (line: string) => void } = {}): Promise<{ sections: StandinSection[]; budget: StandinBudget; text: string }> {
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const sections: StandinSection[] = [];
  for (const s of SECTIONS) {
    if (options.only && !options.only.includes(s.name)) continue;
    try {
      const run = await s.load();
      sections.push(await run(log));
    } catch (err) {
      sections.push({ title: s.name, lines: [`  ${s.name}: not measured: ${err instanceof Error ? err.message : String(err)}`], budget: {} });
    }
  }
  const budget: StandinBudget = Object.assign({}, ...sections.map((s) => s.budget));
  return { sections, budget, text: formatStandin(sections, budget) };
}

/**
 * Voice-to-voice at the caller, from the measured costs. Serial: the whole silence, then STT, LLM first token
 * and TTS first audio one after another. Preemptive (issue "Answer in the silence"): the reply starts at the
 * pause (`speculativeMs` of silence) and goes out when the turn ends, so the caller waits for whichever is later.
 */
export function voiceToVoice(b: StandinBudget, o: { silenceMs: number; pauseMs: number }): { serial: number; preemptive: number } | null {
  if (b.sttMs === undefined || b.llmFirstTokenMs === undefined || b.ttsFirstAudioMs === undefined) return null;
  const work = b.sttMs + b.llmFirstTokenMs + b.ttsFirstAudioMs;
  return { serial: o.silenceMs + work, preemptive: Math.max(o.silenceMs, o.pauseMs + work) };
}

function formatStandin(sections: StandinSection[], b: StandinBudget): string {
  const lines = [`Parley stand-in model bench (${STANDIN_LABEL})`, ''];
  for (const s of sections) lines.push(s.title, ...s.lines, '');
  const f = (x: number | undefined) => (x === undefined ? '—' : `${Math.round(x)} ms`);
  lines.push(
    'voice-to-voice budget on this machine (caller side, from the rows above)',
    `  STT 3 s utterance ${f(b.sttMs)} · LLM first token ${f(b.llmFirstTokenMs)} · TTS first audio ${f(b.ttsFirstAudioMs)}`,
    `  4-core-laptop targets: STT RTF ≤ ${LAPTOP_TARGETS.sttRtf}, LLM first token ≤ ${LAPTOP_TARGETS.llmFirstTokenMs} ms, TTS first audio ≤ ${LAPTOP_TARGETS.ttsFirstAudioMs} ms`,
  );
  for (const [label, o] of [
    ['silence 600 ms, pause at 200 ms', { silenceMs: 600, pauseMs: 200 }],
    ['turn model says complete at 200 ms', { silenceMs: 200, pauseMs: 200 }],
  ] as const) {
    const v = voiceToVoice(b, o);
    lines.push(v ? `  ${label}: serial ${Math.round(v.serial)} ms, preemptive ${Math.round(v.preemptive)} ms` : `  ${label}: — (a section was not measured)`);
  }
  return lines.join('\n');
}

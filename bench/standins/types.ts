/**
 * `npm run bench -- plugins --standin`: random-weight models with the exact shapes of the default models, run
 * through the real plugins and worker processes. What they cost is what the real models cost on this machine
 * (speed depends on shapes, not on weight values); what they say is noise. Every row is labelled so.
 *
 * Each section (llm.ts, stt.ts, tts.ts) writes its own models to a temp folder, measures, and returns its lines
 * for the table plus the figures the voice-to-voice budget (index.ts) is built from.
 */
export const STANDIN_LABEL = 'random weights, real shapes: cost only';

export interface StandinBudget {
  /** STT time for a 3 s utterance (ms). */
  sttMs?: number;
  /** LLM first token of a turn on a kept cache (ms): what a turn pays once the call is under way. */
  llmFirstTokenMs?: number;
  /** TTS first audio of a short clause (ms). */
  ttsFirstAudioMs?: number;
}

export interface StandinSection {
  title: string;
  /** Table rows, already formatted, each naming its model and carrying STANDIN_LABEL where it is a stand-in. */
  lines: string[];
  budget: StandinBudget;
}

export type StandinRunner = (log: (line: string) => void) => Promise<StandinSection>;

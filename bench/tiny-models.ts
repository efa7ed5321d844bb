/** Writes the tests' tiny stand-in models to a temp folder and returns plugin settings pointing at them. */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyWhisper } from '../test/helpers/tiny-whisper.ts';
import { writeMeloModel, writePiperVoice } from '../test/helpers/tiny-tts-models.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export async function tinyModels(): Promise<Record<string, Record<string, unknown>>> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-tiny-models-'));
  writeTinyWhisper(join(dir, 'whisper'));
  // A real (tiny, 260K-parameter) llama model rather than random weights: it writes actual English.
  copyFileSync(join(ROOT, 'test/fixtures/models/stories260K.gguf'), join(dir, 'stories260K.gguf'));
  const melo = await writeMeloModel(join(dir, 'melo'));
  const piper = await writePiperVoice(join(dir, 'piper'));
  return {
    'whisper-stt': { model: join(dir, 'whisper') },
    'llama-llm': { model: join(dir, 'stories260K.gguf'), threads: 2, gpu: false },
    'melo-tts': { model: melo.dir },
    'piper-tts': { model: piper.onnx },
  };
}

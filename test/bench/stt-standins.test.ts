/**
 * The bench's STT stand-ins (bench/standins/stt-models.ts) have the real models' shapes and interfaces: what the
 * bench times is whisper-tiny.en's and moonshine-tiny's compute. No timing here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { pipeline } from '@huggingface/transformers';
import { writeMoonshineTiny, writeWhisperTinyEn, type SttStandinFolder } from '../../bench/standins/stt-models.ts';
import { readWav } from '../../main/core/audio/wav.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const speech = () => readWav(join(ROOT, 'test/fixtures/audio/jfk.wav')).samples.slice(0, 3 * 16000);

let root: string;
let whisper: SttStandinFolder;
let moonshine: SttStandinFolder;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'parley-stt-standin-test-'));
  [whisper] = writeWhisperTinyEn(join(root, 'w'), [5]);
  [moonshine] = writeMoonshineTiny(join(root, 'm'), [5]);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function emptyPast(layers: number, heads: number, hd: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (let l = 0; l < layers; l++) for (const part of ['decoder', 'encoder']) for (const kind of ['key', 'value'])
    feeds[`past_key_values.${l}.${part}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, hd]);
  return feeds;
}

describe('whisper-tiny.en stand-in', () => {
  it('has the real shapes: encoder [1, 1500, 384], logits over 51,864 tokens, cross-attention cached once', async () => {
    const opts = { intraOpNumThreads: 1 };
    const encoder = await ort.InferenceSession.create(join(whisper.dir, 'onnx/encoder_model_quantized.onnx'), opts);
    const { last_hidden_state: enc } = await encoder.run({ input_features: new ort.Tensor('float32', new Float32Array(80 * 3000), [1, 80, 3000]) });
    expect(enc!.dims).toEqual([1, 1500, 384]);

    const config = JSON.parse(readFileSync(join(whisper.dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ d_model: 384, encoder_layers: 4, decoder_layers: 4, encoder_attention_heads: 6, encoder_ffn_dim: 1536, vocab_size: 51864 });
    const decoder = await ort.InferenceSession.create(join(whisper.dir, 'onnx/decoder_model_merged_quantized.onnx'), opts);
    const sot = config.decoder_start_token_id as number;
    const first = await decoder.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(sot), BigInt(sot + 8)]), [1, 2]),
      encoder_hidden_states: enc!,
      use_cache_branch: new ort.Tensor('bool', [false], [1]),
      ...emptyPast(4, 6, 64),
    });
    expect(first.logits!.dims).toEqual([1, 2, 51864]);
    expect(first['present.3.encoder.key']!.dims).toEqual([1, 6, 1500, 64]);
    expect(first['present.3.decoder.key']!.dims).toEqual([1, 6, 2, 64]);

    const past: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(first)) if (name.startsWith('present.')) past[name.replace('present.', 'past_key_values.')] = t;
    const next = await decoder.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from([1n]), [1, 1]), encoder_hidden_states: enc!, use_cache_branch: new ort.Tensor('bool', [true], [1]), ...past });
    expect(next.logits!.dims).toEqual([1, 1, 51864]);
    expect(next['present.0.encoder.key']!.dims).toEqual([1, 6, 1500, 64]);
    expect(next['present.0.decoder.key']!.dims).toEqual([1, 6, 3, 64]);
  });

  it('decodes real speech to a string through the real pipeline', async () => {
    const asr = await pipeline('automatic-speech-recognition', whisper.dir, { dtype: 'q8', local_files_only: true, session_options: { intraOpNumThreads: 1 } } as never);
    const out = (await (asr as unknown as (a: Float32Array) => Promise<{ text: string }>)(speech())) as { text: string };
    expect(out.text.trim().length).toBeGreaterThan(0);
    await (asr as unknown as { dispose(): Promise<void> }).dispose();
  });
});

describe('moonshine-tiny stand-in', () => {
  it('encodes raw audio to [1, frames, 288] and decodes through the real pipeline', async () => {
    const encoder = await ort.InferenceSession.create(join(moonshine.dir, 'onnx/encoder_model_quantized.onnx'), { intraOpNumThreads: 1 });
    const { last_hidden_state: enc } = await encoder.run({ input_values: new ort.Tensor('float32', speech(), [1, 48000]) });
    // Moonshine's front end: 48000 samples → k127 s64: 749 → k7 s3: 248 → k3 s2: 123 frames (≈ 41 per second).
    expect(enc!.dims).toEqual([1, 123, 288]);
    const asr = await pipeline('automatic-speech-recognition', moonshine.dir, { dtype: 'q8', local_files_only: true } as never);
    const out = (await (asr as unknown as (a: Float32Array) => Promise<{ text: string }>)(speech())) as { text: string };
    expect(out.text.trim().length).toBeGreaterThan(0);
    await (asr as unknown as { dispose(): Promise<void> }).dispose();
  });
});

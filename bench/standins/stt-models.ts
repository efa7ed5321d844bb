/**
 * Random-weight STT models with the exact shapes of the defaults, in transformers.js layout, q8 (onnxruntime
 * dynamic quantisation, see onnx-layers.ts), for `npm run bench -- plugins --standin stt`:
 *
 * - whisper-tiny.en (onnx-community layout): encoder input_features [b, 80, 3000] → conv1 80→384 k3 + GELU →
 *   conv2 384→384 k3 s2 + GELU → + positions [1500, 384] → 4 pre-LN layers (384, 6 heads, FFN 1536, GELU) → LN
 *   → [b, 1500, 384]; merged decoder: 4 layers (self-attention with KV cache, cross-attention over the encoder),
 *   token embedding 51,864 × 384 + 448 learned positions, logits 51,864.
 * - moonshine-tiny (onnx-community layout): encoder input_values [b, samples] → conv1 1→288 k127 s64 (no bias) →
 *   tanh → GroupNorm(1) → conv2 288→576 k7 s3 + GELU → conv3 576→288 k3 s2 + GELU → 6 pre-LN layers (288, 8
 *   heads, partial rotary 0.9 of head dim 36 = 32 dims, FFN 1152 GELU) → LN; merged decoder: 6 layers with rotary
 *   self-attention + KV cache, cross-attention, gated-SiLU MLP (fc1 288→2·1152, fc2 1152→288), logits 32,768.
 *
 * Cross-attention keys/values are computed only on the first decoder step (the encoder rows not yet in the
 * cache: encoder length − cached length, so later steps project zero rows), which is what the real merged
 * decoder's If(use_cache_branch) does. The tokenizers and JSON files come from the tests' tiny stand-ins
 * (test/helpers/tiny-*.ts) with config.json set to the real dimensions: only pieces of plain letters get
 * output weight, and the end token wins after `tokens` text tokens, so the decode cost per utterance is set.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValueInfo } from '../../test/helpers/onnx-graph.ts';
import { rng } from '../../test/helpers/gguf-writer.ts';
import { writeTinyWhisper } from '../../test/helpers/tiny-whisper.ts';
import { writeTinyMoonshine } from '../../test/helpers/tiny-moonshine.ts';
import { encodeModelWithInt8, LayerGraph } from './onnx-layers.ts';

const OPSET = 17;
const IR_VERSION = 8;

export const WHISPER_TINY_EN = { d: 384, heads: 6, ffn: 1536, encoderLayers: 4, decoderLayers: 4, vocab: 51864, mels: 80, frames: 3000, positions: 1500, maxTarget: 448 };
export const MOONSHINE_TINY = { d: 288, heads: 8, ffn: 1152, encoderLayers: 6, decoderLayers: 6, vocab: 32768, maxPositions: 194, partialRotary: 0.9 };

/** Text tokens each model emits per second of speech (plus its prompt and end token), the same for both. */
export const TOKENS_PER_SECOND = 3;

export interface SttStandinFolder {
  dir: string;
  /** Text tokens the decoder emits before the end token. */
  tokens: number;
}

function put(dir: string, name: string, data: string | Uint8Array): void {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data);
}

function model(name: string, g: LayerGraph, inputs: ValueInfo[], outputs: ValueInfo[]): Uint8Array {
  return encodeModelWithInt8({ irVersion: IR_VERSION, opset: OPSET, producerName: `parley standin ${name}`, graphName: 'main_graph', inputs, outputs, nodes: g.g.nodes, initializers: g.g.initializers }, g.int8);
}

/** Pre-LN self-attention block (no cache), returns x + attn(LN(x)). */
function encoderAttention(L: LayerGraph, x: string, p: string, d: number, heads: number, bias: boolean, rope?: { cos: string; sin: string; rot: number }): string {
  const hd = d / heads;
  const h = L.layerNorm(x, d, bias);
  let q = L.splitHeads(L.qlinear(h, `${p}.q_proj`, d, d, bias), heads, hd);
  let k = L.splitHeads(L.qlinear(h, `${p}.k_proj`, d, d, false), heads, hd);
  const v = L.splitHeads(L.qlinear(h, `${p}.v_proj`, d, d, bias), heads, hd);
  if (rope) {
    q = L.rotary(q, rope.cos, rope.sin, hd, rope.rot);
    k = L.rotary(k, rope.cos, rope.sin, hd, rope.rot);
  }
  return L.g.op('Add', [x, L.qlinear(L.mergeHeads(L.attend(q, k, v, hd), d), `${p}.out_proj`, d, d, bias)]);
}

function geluMlp(L: LayerGraph, x: string, p: string, d: number, ffn: number, lnBias: boolean): string {
  const h = L.gelu(L.qlinear(L.layerNorm(x, d, lnBias), `${p}.fc1`, d, ffn));
  return L.g.op('Add', [x, L.qlinear(h, `${p}.fc2`, ffn, d)]);
}

function whisperEncoder(random: () => number): Uint8Array {
  const { d, heads, ffn, encoderLayers, mels, positions } = WHISPER_TINY_EN;
  const L = new LayerGraph(random, 'uint8');
  const g = L.g;
  const c1 = L.gelu(L.qconv('input_features', 'conv1', d, mels, 3, { pads: [1, 1] }));
  const c2 = L.gelu(L.qconv(c1, 'conv2', d, d, 3, { pads: [1, 1], strides: [2] }));
  let x = g.op('Add', [g.op('Transpose', [c2], { perm: [0, 2, 1] }), g.constant('float32', [positions, d], L.rand(positions * d, 0.2), 'embed_positions.weight')]);
  for (let l = 0; l < encoderLayers; l++) {
    x = encoderAttention(L, x, `layers.${l}.self_attn`, d, heads, true);
    x = geluMlp(L, x, `layers.${l}`, d, ffn, true);
  }
  g.op('LayerNormalization', [x, g.constant('float32', [d], new Float32Array(d).fill(1)), g.constant('float32', [d], new Float32Array(d))], { axis: -1, epsilon: { f: 1e-5 } }, 'last_hidden_state');
  return model('whisper-tiny.en encoder', L,
    [{ name: 'input_features', type: 'float32', shape: ['batch_size', mels, 'encoder_sequence_length'] }],
    [{ name: 'last_hidden_state', type: 'float32', shape: ['batch_size', 'encoder_sequence_length / 2', d] }]);
}

function moonshineEncoder(random: () => number): Uint8Array {
  const { d, heads, ffn, encoderLayers, partialRotary } = MOONSHINE_TINY;
  const L = new LayerGraph(random, 'uint8');
  const g = L.g;
  const hd = d / heads;
  const rot = 2 * Math.floor(Math.floor(hd * partialRotary) / 2);
  const wave = g.op('Unsqueeze', ['input_values', g.ints([1])]);
  const c1 = g.op('Tanh', [L.qconv(wave, 'conv1', d, 1, 127, { strides: [64] }, false)]);
  // GroupNorm with one group: normalise over channels and time, then a per-channel affine.
  const mean = g.op('ReduceMean', [c1], { axes: [1, 2], keepdims: 1 });
  const centred = g.op('Sub', [c1, mean]);
  const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes: [1, 2], keepdims: 1 });
  const normed = g.op('Div', [centred, g.op('Sqrt', [g.op('Add', [variance, g.scalar(1e-5)])])]);
  const gn = g.op('Add', [g.op('Mul', [normed, g.constant('float32', [d, 1], new Float32Array(d).fill(1), 'groupnorm.weight')]), g.constant('float32', [d, 1], new Float32Array(d), 'groupnorm.bias')]);
  const c2 = L.gelu(L.qconv(gn, 'conv2', 2 * d, d, 7, { strides: [3] }));
  const c3 = L.gelu(L.qconv(c2, 'conv3', d, 2 * d, 3, { strides: [2] }));
  let x = g.op('Transpose', [c3], { perm: [0, 2, 1] });
  const positions = g.op('Range', [L.index(0), L.dim(x, 1), L.index(1)]);
  const rope = { ...L.rotaryTables(positions, 8192, rot), rot };
  for (let l = 0; l < encoderLayers; l++) {
    x = encoderAttention(L, x, `layers.${l}.self_attn`, d, heads, false, rope);
    x = geluMlp(L, x, `layers.${l}.mlp`, d, ffn, false);
  }
  g.op('LayerNormalization', [x, g.constant('float32', [d], new Float32Array(d).fill(1))], { axis: -1, epsilon: { f: 1e-5 } }, 'last_hidden_state');
  return model('moonshine-tiny encoder', L,
    [{ name: 'input_values', type: 'float32', shape: ['batch_size', 'num_samples'] }],
    [{ name: 'last_hidden_state', type: 'float32', shape: ['batch_size', 'encoder_sequence_length', d] }]);
}

interface DecoderShape {
  name: string;
  d: number;
  heads: number;
  layers: number;
  vocab: number;
  /** Learned positions (Whisper) or partial rotary (Moonshine). */
  positions: { learned: number } | { rotary: number };
  mlp: 'gelu' | 'gated-silu';
  ffn: number;
  bias: boolean;
  textIds: Set<number>;
  endId: number;
  /** Position of the last prompt token (the first logits that predict a text token). */
  promptEnd: number;
  tokens: number;
}

function decoder(random: () => number, s: DecoderShape): Uint8Array {
  const L = new LayerGraph(random);
  const g = L.g;
  const { d, heads, layers, vocab } = s;
  const hd = d / heads;
  const past = L.dim('past_key_values.0.decoder.key', 2);
  const total = g.op('Add', [past, L.dim('input_ids', 1)]);
  const positions = g.op('Range', [past, total, L.index(1)]);
  const keyPositions = g.op('Range', [L.index(0), total, L.index(1)]);
  const future = g.op('Greater', [g.op('Unsqueeze', [keyPositions, g.ints([0])]), g.op('Unsqueeze', [positions, g.ints([1])])]);
  const mask = g.op('Where', [future, g.scalar(-1e9), g.scalar(0)]);
  // Encoder rows not in the cache yet: all of them on the first step, none after.
  const fresh = g.op('Sub', [L.dim('encoder_hidden_states', 1), L.dim('past_key_values.0.encoder.key', 2)]);
  const encNew = g.op('Slice', ['encoder_hidden_states', g.ints([0]), g.op('Unsqueeze', [fresh, g.ints([0])]), g.ints([1])]);

  let x = L.qembedding('input_ids', 'embed_tokens', vocab, d);
  let rope: { cos: string; sin: string; rot: number } | undefined;
  if ('learned' in s.positions) x = g.op('Add', [x, g.op('Gather', [g.constant('float32', [s.positions.learned, d], L.rand(s.positions.learned * d, 0.2), 'embed_positions.weight'), positions], { axis: 0 })]);
  else rope = { ...L.rotaryTables(positions, 4096, s.positions.rotary), rot: s.positions.rotary };

  for (let l = 0; l < layers; l++) {
    const p = `layers.${l}`;
    const h = L.layerNorm(x, d, s.bias);
    let q = L.splitHeads(L.qlinear(h, `${p}.self_attn.q_proj`, d, d, s.bias), heads, hd);
    let kNew = L.splitHeads(L.qlinear(h, `${p}.self_attn.k_proj`, d, d, false), heads, hd);
    if (rope) {
      q = L.rotary(q, rope.cos, rope.sin, hd, rope.rot);
      kNew = L.rotary(kNew, rope.cos, rope.sin, hd, rope.rot);
    }
    const k = g.op('Concat', [`past_key_values.${l}.decoder.key`, kNew], { axis: 2 }, `present.${l}.decoder.key`);
    const v = g.op('Concat', [`past_key_values.${l}.decoder.value`, L.splitHeads(L.qlinear(h, `${p}.self_attn.v_proj`, d, d, s.bias), heads, hd)], { axis: 2 }, `present.${l}.decoder.value`);
    x = g.op('Add', [x, L.qlinear(L.mergeHeads(L.attend(q, k, v, hd, mask), d), `${p}.self_attn.out_proj`, d, d, s.bias)]);

    const h2 = L.layerNorm(x, d, s.bias);
    const ek = g.op('Concat', [`past_key_values.${l}.encoder.key`, L.splitHeads(L.qlinear(encNew, `${p}.encoder_attn.k_proj`, d, d, false), heads, hd)], { axis: 2 }, `present.${l}.encoder.key`);
    const ev = g.op('Concat', [`past_key_values.${l}.encoder.value`, L.splitHeads(L.qlinear(encNew, `${p}.encoder_attn.v_proj`, d, d, s.bias), heads, hd)], { axis: 2 }, `present.${l}.encoder.value`);
    const cq = L.splitHeads(L.qlinear(h2, `${p}.encoder_attn.q_proj`, d, d, s.bias), heads, hd);
    x = g.op('Add', [x, L.qlinear(L.mergeHeads(L.attend(cq, ek, ev, hd), d), `${p}.encoder_attn.out_proj`, d, d, s.bias)]);

    const h3 = L.layerNorm(x, d, s.bias);
    if (s.mlp === 'gelu') {
      x = g.op('Add', [x, L.qlinear(L.gelu(L.qlinear(h3, `${p}.fc1`, d, s.ffn)), `${p}.fc2`, s.ffn, d)]);
    } else {
      const both = L.qlinear(h3, `${p}.mlp.fc1`, d, 2 * s.ffn);
      const value = g.op('Slice', [both, g.ints([0]), g.ints([s.ffn]), g.ints([-1])]);
      const gate = g.op('Slice', [both, g.ints([s.ffn]), g.ints([2 * s.ffn]), g.ints([-1])]);
      x = g.op('Add', [x, L.qlinear(g.op('Mul', [L.silu(gate), value]), `${p}.mlp.fc2`, s.ffn, d)]);
    }
  }

  // Output projection over the whole vocabulary (q8, like the download); only plain-letter pieces get weight.
  let logits = L.qlinear(L.layerNorm(x, d, s.bias), 'proj_out', d, vocab, false, { zeroColumns: (c) => !s.textIds.has(c), gain: 3 });
  // The end token wins from the logits at promptEnd + tokens on (it is far below every text logit before that).
  const endColumn = new Float32Array(vocab);
  endColumn[s.endId] = 1;
  const endAt = s.promptEnd + s.tokens;
  const endLogit = g.op('Mul', [g.op('Add', [g.op('Cast', [positions], { to: 1 }), g.scalar(0.5 - endAt)]), g.scalar(100)]);
  logits = g.op('Add', [logits, g.op('Mul', [g.op('Unsqueeze', [endLogit, g.ints([1])]), g.constant('float32', [vocab], endColumn)])], undefined, 'logits');

  const inputs: ValueInfo[] = [
    { name: 'input_ids', type: 'int64', shape: ['batch_size', 'decoder_sequence_length'] },
    { name: 'encoder_hidden_states', type: 'float32', shape: ['batch_size', 'encoder_sequence_length', d] },
  ];
  const outputs: ValueInfo[] = [{ name: 'logits', type: 'float32', shape: ['batch_size', 'decoder_sequence_length', vocab] }];
  for (let l = 0; l < layers; l++) {
    for (const kind of ['key', 'value']) {
      inputs.push({ name: `past_key_values.${l}.decoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'past_decoder_sequence_length', hd] });
      inputs.push({ name: `past_key_values.${l}.encoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'encoder_sequence_length_out', hd] });
      outputs.push({ name: `present.${l}.decoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'past_decoder_sequence_length + 1', hd] });
      outputs.push({ name: `present.${l}.encoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'encoder_sequence_length_out', hd] });
    }
  }
  // Part of the merged interface; the cross-attention cache length plays its role here (see the file comment).
  inputs.push({ name: 'use_cache_branch', type: 'bool', shape: [1] });
  return model(s.name, L, inputs, outputs);
}

function textIdsOf(dir: string, piece: RegExp): Set<number> {
  const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
  return new Set(Object.entries(tok.model.vocab).filter(([p]) => piece.test(p)).map(([, id]) => id));
}

function patchConfig(dir: string, values: Record<string, unknown>): void {
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...values }, null, 2));
}

/** One whisper-tiny.en folder per entry of `tokens` (the decoder's fixed text length differs; the encoder is shared). */
export function writeWhisperTinyEn(root: string, tokens: number[], seed = 1): SttStandinFolder[] {
  const random = rng(seed);
  const encoder = whisperEncoder(random);
  const w = WHISPER_TINY_EN;
  return tokens.map((n) => {
    const dir = join(root, `whisper-tiny.en-${n}tok`);
    writeTinyWhisper(dir, { suffixes: [] });
    patchConfig(dir, { _name_or_path: 'parley/standin-whisper-tiny.en', d_model: w.d, encoder_layers: w.encoderLayers, encoder_attention_heads: w.heads, encoder_ffn_dim: w.ffn, decoder_layers: w.decoderLayers, decoder_attention_heads: w.heads, decoder_ffn_dim: w.ffn, num_hidden_layers: w.encoderLayers, vocab_size: w.vocab });
    const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string }[] };
    const endId = tok.added_tokens.find((t) => t.content === '<|endoftext|>')!.id;
    put(dir, 'onnx/encoder_model_quantized.onnx', encoder);
    // Prompt <|startoftranscript|><|notimestamps|>: positions 0 and 1.
    put(dir, 'onnx/decoder_model_merged_quantized.onnx', decoder(random, {
      name: 'whisper-tiny.en decoder', d: w.d, heads: w.heads, layers: w.decoderLayers, vocab: w.vocab, positions: { learned: w.maxTarget },
      mlp: 'gelu', ffn: w.ffn, bias: true, textIds: textIdsOf(dir, /^\u0120?[A-Za-z]+$/), endId, promptEnd: 1, tokens: n,
    }));
    return { dir, tokens: n };
  });
}

/** One moonshine-tiny folder per entry of `tokens`. */
export function writeMoonshineTiny(root: string, tokens: number[], seed = 2): SttStandinFolder[] {
  const random = rng(seed);
  const encoder = moonshineEncoder(random);
  const m = MOONSHINE_TINY;
  const hd = m.d / m.heads;
  return tokens.map((n) => {
    const dir = join(root, `moonshine-tiny-${n}tok`);
    writeTinyMoonshine(dir, { suffixes: [] });
    patchConfig(dir, { _name_or_path: 'parley/standin-moonshine-tiny', hidden_size: m.d, intermediate_size: m.ffn, encoder_num_hidden_layers: m.encoderLayers, decoder_num_hidden_layers: m.decoderLayers, encoder_num_attention_heads: m.heads, encoder_num_key_value_heads: m.heads, decoder_num_attention_heads: m.heads, decoder_num_key_value_heads: m.heads, max_position_embeddings: m.maxPositions, partial_rotary_factor: m.partialRotary, vocab_size: m.vocab });
    put(dir, 'onnx/encoder_model_quantized.onnx', encoder);
    // Prompt <s>: position 0.
    put(dir, 'onnx/decoder_model_merged_quantized.onnx', decoder(random, {
      name: 'moonshine-tiny decoder', d: m.d, heads: m.heads, layers: m.decoderLayers, vocab: m.vocab, positions: { rotary: 2 * Math.floor(Math.floor(hd * m.partialRotary) / 2) },
      mlp: 'gated-silu', ffn: m.ffn, bias: false, textIds: textIdsOf(dir, /^\u2581?[A-Za-z]+$/), endId: 2, promptEnd: 0, tokens: n,
    }));
    return { dir, tokens: n };
  });
}

/** Text tokens for an utterance of `seconds`. */
export function tokensFor(seconds: number): number {
  return Math.max(1, Math.round(seconds * TOKENS_PER_SECOND));
}

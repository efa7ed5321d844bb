/**
 * A stand-in for Pipecat's Smart Turn v3 ONNX model with its exact interface (pipecat-ai/smart-turn train.py
 * export: opset 20, input `input_features` float32 [batch_size, 80, 800], output `logits` float32 [batch_size, 1]
 * holding sigmoid probabilities, not logits), and an answer that depends on the features:
 *
 *   complete = sigmoid(END_WEIGHT · mean(features[:, :, 750:800]) + START_WEIGHT · mean(features[:, :, 0:50]) + BIAS)
 *
 * So speech in the last half second (high log-mel there) and silence at the end give different answers, and a
 * test can compute the exact expected answer from reference features (`standInProbability`).
 */
import { writeFileSync } from 'node:fs';
import { encodeOnnxModel, GraphBuilder } from './onnx-graph.ts';
import { rng } from './gguf-writer.ts';

export const END_WEIGHT = 6;
export const START_WEIGHT = -3;
export const BIAS = 1;
export const MELS = 80;
export const FRAMES = 800;

export interface TinySmartTurnOptions {
  /** The input's name (Smart Turn's is `input_features`): another name makes a model the plugin must refuse. */
  inputName?: string;
  /** Values per batch row in the output (Smart Turn's is 1). */
  outputWidth?: number;
  /** Apply the sigmoid (Smart Turn does); false answers raw scores outside [0, 1]. */
  sigmoid?: boolean;
  bias?: number;
}

export function buildTinySmartTurn(options: TinySmartTurnOptions = {}): Uint8Array {
  const input = options.inputName ?? 'input_features';
  const width = options.outputWidth ?? 1;
  const g = new GraphBuilder();
  const meanOver = (from: number, to: number) =>
    g.op('ReduceMean', [g.op('Slice', [input, g.ints([from]), g.ints([to]), g.ints([2])]), g.ints([1, 2])], { keepdims: 0 });
  const end = g.op('Mul', [meanOver(FRAMES - 50, FRAMES), g.scalar(END_WEIGHT)]);
  const start = g.op('Mul', [meanOver(0, 50), g.scalar(START_WEIGHT)]);
  let score = g.op('Add', [g.op('Add', [end, start]), g.scalar(options.bias ?? BIAS)]); // [batch]
  if (options.sigmoid !== false) score = g.op('Sigmoid', [score]);
  const column = g.op('Unsqueeze', [score, g.ints([1])]); // [batch, 1]
  const out = width === 1 ? column : g.op('Tile', [column, g.ints([1, width])]);
  g.op('Identity', [out], undefined, 'logits');
  return encodeOnnxModel({
    irVersion: 9,
    opset: 20,
    producerName: 'pytorch',
    producerVersion: '2.4.0',
    graphName: 'main_graph',
    inputs: [{ name: input, type: 'float32', shape: ['batch_size', MELS, FRAMES] }],
    outputs: [{ name: 'logits', type: 'float32', shape: ['batch_size', width] }],
    nodes: g.nodes,
    initializers: g.initializers,
  });
}

export function writeTinySmartTurn(path: string, options: TinySmartTurnOptions = {}): string {
  writeFileSync(path, buildTinySmartTurn(options));
  return path;
}

/** What the stand-in answers for features laid out [80][800] (computed here in float64). */
export function standInProbability(features: ArrayLike<number>): number {
  const mean = (from: number, to: number) => {
    let sum = 0;
    for (let m = 0; m < MELS; m++) for (let f = from; f < to; f++) sum += features[m * FRAMES + f]!;
    return sum / (MELS * (to - from));
  };
  const z = END_WEIGHT * mean(FRAMES - 50, FRAMES) + START_WEIGHT * mean(0, 50) + BIAS;
  return 1 / (1 + Math.exp(-z));
}

/**
 * For the cost only: Smart Turn v3's real shapes with seeded random fp32 weights — Whisper-tiny's encoder (two
 * convolutions, the second with stride 2, so 400 positions; 4 pre-norm layers, d_model 384, 6 heads, MLP 1536)
 * plus the attention-pooling and classifier head of pipecat-ai/smart-turn train.py (384→256→1 pooling,
 * 384→256→64→1 classifier, sigmoid). Same interface as `buildTinySmartTurn`. Its answers mean nothing; the real
 * model is int8, so this measures the fp32 cost of the same arithmetic, not the real model's latency.
 */
export function buildSmartTurnShapedModel(seed = 7): Uint8Array {
  const D = 384;
  const HEADS = 6;
  const HEAD = D / HEADS;
  const T = FRAMES / 2;
  const random = rng(seed);
  const g = new GraphBuilder();
  const weights = (dims: number[], scale = 0.05) => g.constant('float32', dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (random() * 2 - 1) * scale));
  const ones = (n: number) => g.constant('float32', [n], new Float32Array(n).fill(1));
  const zeros = (n: number) => g.constant('float32', [n], new Float32Array(n));
  const linear = (x: string, from: number, to: number) => g.op('Add', [g.op('MatMul', [x, weights([from, to])]), weights([to], 0.01)]);
  const norm = (x: string) => g.op('LayerNormalization', [x, ones(D), zeros(D)], { axis: -1, epsilon: { f: 1e-5 } });
  let h = g.op('Gelu', [g.op('Conv', ['input_features', weights([D, MELS, 3]), weights([D], 0.01)], { pads: [1, 1], strides: [1] })]);
  h = g.op('Gelu', [g.op('Conv', [h, weights([D, D, 3], 0.02), weights([D], 0.01)], { pads: [1, 1], strides: [2] })]);
  h = g.op('Add', [g.op('Transpose', [h], { perm: [0, 2, 1] }), weights([T, D], 0.02)]); // [B, 400, 384]
  const heads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, g.ints([0, T, HEADS, HEAD])])], { perm: [0, 2, 1, 3] });
  for (let layer = 0; layer < 4; layer++) {
    const a = norm(h);
    const q = heads(linear(a, D, D));
    const k = g.op('Transpose', [g.op('Reshape', [g.op('MatMul', [a, weights([D, D])]), g.ints([0, T, HEADS, HEAD])])], { perm: [0, 2, 3, 1] });
    const v = heads(linear(a, D, D));
    const attention = g.op('Softmax', [g.op('Mul', [g.op('MatMul', [q, k]), g.scalar(1 / Math.sqrt(HEAD))])], { axis: -1 });
    const mixed = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [attention, v])], { perm: [0, 2, 1, 3] }), g.ints([0, T, D])]);
    h = g.op('Add', [h, linear(mixed, D, D)]);
    h = g.op('Add', [h, linear(g.op('Gelu', [linear(norm(h), D, 4 * D)]), 4 * D, D)]);
  }
  h = norm(h);
  const poolWeights = g.op('Softmax', [linear(g.op('Tanh', [linear(h, D, 256)]), 256, 1)], { axis: 1 }); // [B, 400, 1]
  const pooled = g.op('ReduceSum', [g.op('Mul', [h, poolWeights]), g.ints([1])], { keepdims: 0 }); // [B, 384]
  const hidden = g.op('Gelu', [linear(g.op('Gelu', [linear(pooled, D, 256)]), 256, 64)]);
  g.op('Sigmoid', [linear(hidden, 64, 1)], undefined, 'logits');
  return encodeOnnxModel({
    irVersion: 9,
    opset: 20,
    producerName: 'pytorch',
    producerVersion: '2.4.0',
    graphName: 'main_graph',
    inputs: [{ name: 'input_features', type: 'float32', shape: ['batch_size', MELS, FRAMES] }],
    outputs: [{ name: 'logits', type: 'float32', shape: ['batch_size', 1] }],
    nodes: g.nodes,
    initializers: g.initializers,
  });
}

/**
 * A Moonshine model folder in transformers.js layout with tiny random weights, which the real
 * `@huggingface/transformers` ASR pipeline loads and decodes end to end (its `_call_moonshine` branch):
 *
 *   config.json, generation_config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json,
 *   onnx/encoder_model{suffix}.onnx, onnx/decoder_model_merged{suffix}.onnx
 *
 * The interfaces are those transformers.js expects of onnx-community/moonshine-*-ONNX (models/registry.js maps
 * "moonshine" to MoonshineForConditionalGeneration, a Seq2Seq model; modeling_moonshine.js main_input_name
 * "input_values"; configs.js reads decoder_num_hidden_layers / decoder_num_key_value_heads /
 * encoder_num_key_value_heads / hidden_size for the cache names):
 * - encoder: input_values [batch, samples] (raw 16 kHz audio, MoonshineFeatureExtractor) → last_hidden_state
 *   [batch, frames, hidden]: three strided 1-D convolutions (kernel 127 stride 64, 7 / 3, 3 / 2, as in
 *   Moonshine's preprocessor, so frames ≈ samples / 384 and the encoder's work grows with the audio), then a
 *   layer norm;
 * - merged decoder: input_ids, encoder_hidden_states, past_key_values.{i}.{decoder,encoder}.{key,value},
 *   use_cache_branch → logits, present.* — causal self-attention over the cache, cross-attention over the encoder.
 * The tokenizer is a SentencePiece-style BPE (Metaspace "▁", <unk>/<s>/</s> = 0/1/2 as in Moonshine's). Only
 * ordinary pieces get non-zero output weights and </s> gains logit with position, so a transcript is about
 * `targetLength` pieces of gibberish that depends on the audio.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeOnnxModel, GraphBuilder, type ValueInfo } from './onnx-graph.ts';
import { rng } from './gguf-writer.ts';

export interface TinyMoonshineOptions {
  seed?: number;
  hidden?: number;
  heads?: number;
  decoderLayers?: number;
  /** File suffixes to write, as transformers.js maps dtypes: "_quantized" (q8), "" (fp32), ... */
  suffixes?: string[];
  /** Tokens generated before </s> wins. */
  targetLength?: number;
  /** config.json max_position_embeddings (the decoder's position table has this many rows). */
  maxPositions?: number;
}

export interface TinyMoonshineInfo {
  dir: string;
  vocabSize: number;
  /** Every character a transcript can contain. */
  alphabet: Set<string>;
  files: string[];
}

const OPSET = 17;
const IR_VERSION = 8;
const SPACE = '\u2581'; // "▁"
const WORDS = ['and', 'so', 'my', 'fellow', 'americans', 'ask', 'not', 'what', 'your', 'country', 'can', 'do', 'for', 'you',
  'the', 'a', 'to', 'is', 'hello', 'yes', 'no', 'call', 'me', 'back', 'please', 'time', 'open', 'we', 'are', 'moon'];

interface Vocab {
  vocab: Record<string, number>;
  merges: string[];
  size: number;
  textIds: number[];
}

function buildVocab(): Vocab {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  const textIds: number[] = [];
  const add = (piece: string) => {
    if (vocab[piece] !== undefined) return;
    vocab[piece] = Object.keys(vocab).length;
    textIds.push(vocab[piece]!);
  };
  for (const c of [SPACE, ...'abcdefghijklmnopqrstuvwxyzAFMSTW.,?\'']) add(c);
  const merges: string[] = [];
  for (const word of WORDS.flatMap((w) => [SPACE + w, SPACE + w[0]!.toUpperCase() + w.slice(1), w])) {
    const chars = [...word];
    let left = chars[0]!;
    for (const c of chars.slice(1)) {
      if (vocab[c] === undefined) add(c);
      const merge = `${left} ${c}`;
      if (!merges.includes(merge)) merges.push(merge);
      left += c;
      add(left);
    }
  }
  return { vocab, merges, size: Object.keys(vocab).length, textIds };
}

function encoderGraph(random: () => number, d: number): Uint8Array {
  const g = new GraphBuilder();
  const rand = (n: number, scale: number) => Array.from({ length: n }, () => (random() * 2 - 1) * scale);
  const w1 = g.constant('float32', [d, 1, 127], rand(d * 127, 4 / Math.sqrt(127)), 'conv1.weight');
  const w2 = g.constant('float32', [d, d, 7], rand(d * d * 7, 1 / Math.sqrt(d * 7)), 'conv2.weight');
  const b2 = g.constant('float32', [d], rand(d, 0.1), 'conv2.bias');
  const w3 = g.constant('float32', [d, d, 3], rand(d * d * 3, 1 / Math.sqrt(d * 3)), 'conv3.weight');
  const b3 = g.constant('float32', [d], rand(d, 0.1), 'conv3.bias');
  const gamma = g.constant('float32', [d], new Array(d).fill(1), 'layer_norm.weight');
  const beta = g.constant('float32', [d], new Array(d).fill(0), 'layer_norm.bias');

  const wave = g.op('Unsqueeze', ['input_values', g.ints([1])]);
  const c1 = g.op('Tanh', [g.op('Conv', [wave, w1], { kernel_shape: [127], strides: [64] })]);
  const c2 = g.op('Tanh', [g.op('Conv', [c1, w2, b2], { kernel_shape: [7], strides: [3] })]);
  const c3 = g.op('Tanh', [g.op('Conv', [c2, w3, b3], { kernel_shape: [3], strides: [2] })]);
  g.op('LayerNormalization', [g.op('Transpose', [c3], { perm: [0, 2, 1] }), gamma, beta], { axis: -1, epsilon: { f: 1e-5 } }, 'last_hidden_state');

  return encodeOnnxModel({
    irVersion: IR_VERSION,
    opset: OPSET,
    producerName: 'parley tiny-moonshine',
    graphName: 'main_graph',
    inputs: [{ name: 'input_values', type: 'float32', shape: ['batch_size', 'num_samples'] }],
    outputs: [{ name: 'last_hidden_state', type: 'float32', shape: ['batch_size', 'encoder_sequence_length', d] }],
    nodes: g.nodes,
    initializers: g.initializers,
  });
}

function decoderGraph(random: () => number, v: Vocab, d: number, heads: number, layers: number, targetLength: number, maxPositions: number): Uint8Array {
  const g = new GraphBuilder();
  const hd = d / heads;
  const rand = (n: number, scale: number) => Array.from({ length: n }, () => (random() * 2 - 1) * scale);
  const w = 1 / Math.sqrt(d);
  const ones = g.constant('float32', [d], new Array(d).fill(1), 'ln.weight');
  const zeros = g.constant('float32', [d], new Array(d).fill(0), 'ln.bias');
  const ln = (x: string) => g.op('LayerNormalization', [x, ones, zeros], { axis: -1, epsilon: { f: 1e-5 } });
  const linear = (x: string, name: string, rows = d, cols = d) => g.op('MatMul', [x, g.constant('float32', [rows, cols], rand(rows * cols, w), name)]);
  const splitHeads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, heads, hd])])], { perm: [0, 2, 1, 3] });
  const mergeHeads = (x: string) => g.op('Reshape', [g.op('Transpose', [x], { perm: [0, 2, 1, 3] }), g.ints([0, 0, d])]);
  const scale = g.scalar(1 / Math.sqrt(hd));
  const attend = (q: string, k: string, val: string, mask?: string) => {
    let scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), scale]);
    if (mask) scores = g.op('Add', [scores, mask]);
    return g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), val]);
  };

  // Absolute positions of the new tokens: past length (from the cache) + 0..T-1. (Moonshine itself uses rotary
  // embeddings; a position table is enough for a stand-in whose </s> depends on the position.)
  const scalarIndex = (i: number) => g.constant('int64', [], [i]);
  const past = g.op('Gather', [g.op('Shape', ['past_key_values.0.decoder.key']), scalarIndex(2)], { axis: 0 });
  const newLen = g.op('Gather', [g.op('Shape', ['input_ids']), scalarIndex(1)], { axis: 0 });
  const total = g.op('Add', [past, newLen]);
  const positions = g.op('Range', [past, total, scalarIndex(1)]);
  const keyPositions = g.op('Range', [scalarIndex(0), total, scalarIndex(1)]);
  const future = g.op('Greater', [g.op('Unsqueeze', [keyPositions, g.ints([0])]), g.op('Unsqueeze', [positions, g.ints([1])])]);
  const mask = g.op('Where', [future, g.scalar(-1e9), g.scalar(0)]);

  const tokenEmbed = g.constant('float32', [v.size, d], rand(v.size * d, 1), 'embed_tokens.weight');
  const posEmbed = g.constant('float32', [maxPositions, d], rand(maxPositions * d, 1), 'embed_positions.weight');
  let x = g.op('Add', [g.op('Gather', [tokenEmbed, 'input_ids'], { axis: 0 }), g.op('Gather', [posEmbed, positions], { axis: 0 })]);

  for (let l = 0; l < layers; l++) {
    const p = `layers.${l}`;
    const h = ln(x);
    const k = g.op('Concat', [`past_key_values.${l}.decoder.key`, splitHeads(linear(h, `${p}.self_attn.k_proj`))], { axis: 2 }, `present.${l}.decoder.key`);
    const val = g.op('Concat', [`past_key_values.${l}.decoder.value`, splitHeads(linear(h, `${p}.self_attn.v_proj`))], { axis: 2 }, `present.${l}.decoder.value`);
    x = g.op('Add', [x, linear(mergeHeads(attend(splitHeads(linear(h, `${p}.self_attn.q_proj`)), k, val, mask)), `${p}.self_attn.o_proj`)]);

    const h2 = ln(x);
    const ek = g.op('Identity', [splitHeads(linear('encoder_hidden_states', `${p}.encoder_attn.k_proj`))], undefined, `present.${l}.encoder.key`);
    const ev = g.op('Identity', [splitHeads(linear('encoder_hidden_states', `${p}.encoder_attn.v_proj`))], undefined, `present.${l}.encoder.value`);
    const cross = linear(mergeHeads(attend(splitHeads(linear(h2, `${p}.encoder_attn.q_proj`)), ek, ev)), `${p}.encoder_attn.o_proj`);
    // Amplify what the audio contributes, so different audio gives different text.
    x = g.op('Add', [x, g.op('Mul', [cross, g.scalar(4)])]);

    x = g.op('Add', [x, linear(g.op('Relu', [linear(ln(x), `${p}.mlp.fc1`, d, 2 * d)]), `${p}.mlp.fc2`, 2 * d, d)]);
  }

  const text = new Set(v.textIds);
  const out = new Float32Array(d * v.size);
  for (let r = 0; r < d; r++) for (let c = 0; c < v.size; c++) out[r * v.size + c] = text.has(c) ? (random() * 2 - 1) * 1.5 : 0;
  let logits = g.op('MatMul', [ln(x), g.constant('float32', [d, v.size], out, 'proj_out.weight')]);
  // </s> (id 2) gains 4 logits per position past the target length.
  const eosColumn = new Float32Array(v.size);
  eosColumn[2] = 1;
  const eos = g.op('Mul', [
    g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [g.op('Cast', [positions], { to: 1 }), g.scalar(targetLength)]), g.scalar(4)]), g.ints([1])]),
    g.constant('float32', [v.size], eosColumn),
  ]);
  logits = g.op('Add', [logits, eos], undefined, 'logits');

  const inputs: ValueInfo[] = [
    { name: 'input_ids', type: 'int64', shape: ['batch_size', 'decoder_sequence_length'] },
    { name: 'encoder_hidden_states', type: 'float32', shape: ['batch_size', 'encoder_sequence_length', d] },
  ];
  const outputs: ValueInfo[] = [{ name: 'logits', type: 'float32', shape: ['batch_size', 'decoder_sequence_length', v.size] }];
  for (let l = 0; l < layers; l++) {
    for (const kind of ['key', 'value']) {
      inputs.push({ name: `past_key_values.${l}.decoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'past_decoder_sequence_length', hd] });
      inputs.push({ name: `past_key_values.${l}.encoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'encoder_sequence_length_out', hd] });
      outputs.push({ name: `present.${l}.decoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'past_decoder_sequence_length + 1', hd] });
      outputs.push({ name: `present.${l}.encoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'encoder_sequence_length_out', hd] });
    }
  }
  inputs.push({ name: 'use_cache_branch', type: 'bool', shape: [1] });

  return encodeOnnxModel({ irVersion: IR_VERSION, opset: OPSET, producerName: 'parley tiny-moonshine', graphName: 'main_graph', inputs, outputs, nodes: g.nodes, initializers: g.initializers });
}

function tokenizerJson(v: Vocab) {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: SPACE, prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab: v.vocab, merges: v.merges },
  };
}

/** Write the tiny Moonshine folder to `dir` (created if needed). */
export function writeTinyMoonshine(dir: string, options: TinyMoonshineOptions = {}): TinyMoonshineInfo {
  const { seed = 11, hidden = 32, heads = 2, decoderLayers = 2, suffixes = ['_quantized'], targetLength = 10, maxPositions = 194 } = options;
  const v = buildVocab();
  const files: string[] = [];
  const put = (name: string, data: string | Uint8Array) => {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, data);
    files.push(name);
  };
  // The keys of UsefulSensors/moonshine-tiny's config.json, with tiny sizes.
  put('config.json', JSON.stringify({
    _name_or_path: 'parley/tiny-moonshine',
    architectures: ['MoonshineForConditionalGeneration'],
    model_type: 'moonshine',
    is_encoder_decoder: true,
    attention_bias: false,
    attention_dropout: 0.0,
    hidden_size: hidden,
    intermediate_size: 2 * hidden,
    encoder_num_hidden_layers: 1,
    encoder_num_attention_heads: heads,
    encoder_num_key_value_heads: heads,
    encoder_hidden_act: 'gelu',
    decoder_num_hidden_layers: decoderLayers,
    decoder_num_attention_heads: heads,
    decoder_num_key_value_heads: heads,
    decoder_hidden_act: 'silu',
    max_position_embeddings: maxPositions,
    partial_rotary_factor: 0.9,
    rope_theta: 10000.0,
    rope_scaling: null,
    vocab_size: v.size,
    bos_token_id: 1,
    eos_token_id: 2,
    decoder_start_token_id: 1,
    pad_token_id: 2,
    use_cache: true,
    torch_dtype: 'float32',
  }, null, 2));
  put('generation_config.json', JSON.stringify({ bos_token_id: 1, decoder_start_token_id: 1, eos_token_id: 2, pad_token_id: 2 }, null, 2));
  put('preprocessor_config.json', JSON.stringify({
    do_normalize: false,
    feature_extractor_type: 'MoonshineFeatureExtractor',
    feature_size: 1,
    padding_side: 'right',
    padding_value: 0.0,
    return_attention_mask: false,
    sampling_rate: 16000,
  }, null, 2));
  put('tokenizer.json', JSON.stringify(tokenizerJson(v)));
  put('tokenizer_config.json', JSON.stringify({
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    clean_up_tokenization_spaces: false,
    legacy: false,
    model_max_length: 1000000000000000019884624838656,
    tokenizer_class: 'PreTrainedTokenizerFast',
  }, null, 2));

  const random = rng(seed);
  const encoder = encoderGraph(random, hidden);
  const decoder = decoderGraph(random, v, hidden, heads, decoderLayers, targetLength, maxPositions);
  for (const suffix of suffixes) {
    put(`onnx/encoder_model${suffix}.onnx`, encoder);
    put(`onnx/decoder_model_merged${suffix}.onnx`, decoder);
  }
  const alphabet = new Set([' ', ...v.textIds.flatMap((id) => [...Object.keys(v.vocab).find((p) => v.vocab[p] === id)!.replaceAll(SPACE, ' ')])]);
  return { dir, vocabSize: v.size, alphabet, files };
}

/**
 * Tiny stand-ins for the real TTS exports, written to disk the way the model manager lays real ones out:
 *
 * - a MeloTTS folder as sherpa-onnx publishes it (`vits-melo-tts-en`: model.onnx + tokens.txt + lexicon.txt).
 *   model.onnx has the inputs, output, dtypes, ranks, opset and metadata_props that
 *   k2-fsa/sherpa-onnx scripts/melo-tts/export-onnx-en.py gives the real model; tokens.txt is the real English
 *   symbol table (MeloTTS melo/text/symbols.py: "_" + sorted(all language symbols) + punctuation + SP, UNK);
 *   lexicon.txt lines are made from real CMU dictionary lines (MeloTTS melo/text/cmudict.rep) by the export
 *   script's own rule (refine_syllables + tone_start).
 * - a Piper voice (`<voice>.onnx` + `<voice>.onnx.json`) with the inputs/outputs of rhasspy/piper
 *   src/python/piper_train/export_onnx.py (opset 15) and the config layout of the published voices.
 *
 * The graphs are not neural networks. They turn each input id into a stretch of audio whose length is
 * ceil(length_scale * samplesPerId) samples and whose peak amplitude is id / 256, so a test can read back from
 * the audio which ids the plugin fed the model: blanks/pads (id 0) come out silent.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeOnnxModel, GraphBuilder, type ValueInfo } from './onnx-graph.ts';


// ---------------------------------------------------------------------------------------------------------------
// What the tiny graphs encode

/** Peak amplitude of the audio for id i is i * AMPLITUDE_PER_ID. */
export const AMPLITUDE_PER_ID = 1 / 256;

/**
 * Read back, from the tiny graphs' audio, the ids that produced it: one id per stretch of `samplesPerId` samples.
 * Pass `scale` when the audio was peak-normalized afterwards (Piper does), to undo it.
 */
export function decodeIds(samples: Float32Array, samplesPerId: number, scale = 1): number[] {
  const ids: number[] = [];
  for (let start = 0; start + samplesPerId <= samples.length; start += samplesPerId) {
    let peak = 0;
    for (let i = start; i < start + samplesPerId; i++) peak = Math.max(peak, Math.abs(samples[i]!));
    ids.push(Math.round((peak * scale) / AMPLITUDE_PER_ID));
  }
  return ids;
}

function amplitudeTable(size: number): number[] {
  return Array.from({ length: size }, (_, i) => i * AMPLITUDE_PER_ID);
}

/**
 * Optional busy work so a run takes a while, like a real model's (tests of abort and streaming need runs that
 * last): `count` chained MatMuls of a size x size matrix built from a float input (so onnxruntime cannot fold it
 * away at load), added to the audio times zero.
 */
function busyWork(g: GraphBuilder, scalarInput: string, count: number, size = 512): string | undefined {
  if (count <= 0) return undefined;
  let m = g.op('Mul', [g.constant('float32', [size, size], new Float32Array(size * size).fill(1 / size)), scalarInput]);
  for (let i = 0; i < count; i++) m = g.op('MatMul', [m, m]);
  return g.op('Mul', [g.op('ReduceMean', [m], { keepdims: 0 }), g.scalar(0)]);
}

// ---------------------------------------------------------------------------------------------------------------
// MeloTTS

/**
 * The English MeloTTS symbol table, i.e. the real tokens.txt of vits-melo-tts-en (line i is "<symbol> i").
 * "V" is 14 (sherpa-onnx scripts/melo-tts/test.py relies on that to map the lexicon's "v" to "V").
 */
export const MELO_EN_SYMBOLS: readonly string[] = [
  "_", "\"", "(", ")", "*", "/", ":", "AA", "E", "EE", "En", "N",
  "OO", "Q", "V", "[", "\\", "]", "^", "a", "a:", "aa", "ae", "ah",
  "ai", "an", "ang", "ao", "aw", "ay", "b", "by", "c", "ch", "d", "dh",
  "dy", "e", "e:", "eh", "ei", "en", "eng", "er", "ey", "f", "g", "gy",
  "h", "hh", "hy", "i", "i0", "i:", "ia", "ian", "iang", "iao", "ie", "ih",
  "in", "ing", "iong", "ir", "iu", "iy", "j", "jh", "k", "ky", "l", "m",
  "my", "n", "ng", "ny", "o", "o:", "ong", "ou", "ow", "oy", "p", "py",
  "q", "r", "ry", "s", "sh", "t", "th", "ts", "ty", "u", "u:", "ua",
  "uai", "uan", "uang", "uh", "ui", "un", "uo", "uw", "v", "van", "ve", "vn",
  "w", "x", "y", "z", "zh", "zy", "~", "æ", "ç", "ð", "ø", "ŋ",
  "œ", "ɐ", "ɑ", "ɒ", "ɔ", "ɕ", "ə", "ɛ", "ɜ", "ɡ", "ɣ", "ɥ",
  "ɦ", "ɪ", "ɫ", "ɬ", "ɭ", "ɯ", "ɲ", "ɵ", "ɸ", "ɹ", "ɾ", "ʁ",
  "ʃ", "ʊ", "ʌ", "ʎ", "ʏ", "ʑ", "ʒ", "ʝ", "ʲ", "ˈ", "ˌ", "ː",
  "̃", "̩", "β", "θ", "ᄀ", "ᄁ", "ᄂ", "ᄃ", "ᄄ", "ᄅ", "ᄆ", "ᄇ",
  "ᄈ", "ᄉ", "ᄊ", "ᄋ", "ᄌ", "ᄍ", "ᄎ", "ᄏ", "ᄐ", "ᄑ", "ᄒ", "ᅡ",
  "ᅢ", "ᅣ", "ᅤ", "ᅥ", "ᅦ", "ᅧ", "ᅨ", "ᅩ", "ᅪ", "ᅫ", "ᅬ", "ᅭ",
  "ᅮ", "ᅯ", "ᅰ", "ᅱ", "ᅲ", "ᅳ", "ᅴ", "ᅵ", "ᆨ", "ᆫ", "ᆮ", "ᆯ",
  "ᆷ", "ᆸ", "ᆼ", "ㄸ", "!", "?", "…", ",", ".", "'", "-", "¿",
  "¡", "SP", "UNK",
];

/**
 * One lexicon.txt line from one cmudict.rep line, by export-onnx-en.py's generate_lexicon():
 * `phones, tones = refine_syllables(eng_dict[word]); tones = [t + tone_start]`, where refine_ph() lowercases the
 * phone and turns a trailing stress digit d into tone d + 1 (no digit: tone 0).
 */
export function meloLexiconLine(cmuLine: string, toneStart = 7): string {
  const [word, pron] = cmuLine.split('  ');
  const phones: string[] = [];
  const tones: number[] = [];
  for (const syllable of pron!.split(' - ')) {
    for (const phone of syllable.split(' ')) {
      const m = /^(.*?)(\d)$/.exec(phone);
      phones.push((m ? m[1]! : phone).toLowerCase());
      tones.push((m ? Number(m[2]) + 1 : 0) + toneStart);
    }
  }
  return `${word!.toLowerCase()} ${phones.join(' ')} ${tones.join(' ')}`;
}

/** Real cmudict.rep lines (MeloTTS melo/text/cmudict.rep) for the words the tests speak, plus the letters A-Z. */
const CMUDICT_SUBSET = fileURLToPath(new URL('../fixtures/melo/cmudict-subset.rep', import.meta.url));

/** The lexicon.txt of the tiny MeloTTS folder: real entries for the words the tests speak. */
export function meloLexicon(): string {
  return readFileSync(CMUDICT_SUBSET, 'utf8').trim().split('\n').map((l) => meloLexiconLine(l)).join('\n') + '\n';
}

/** metadata_props of the real English export (export-onnx-en.py, with MeloTTS-English's hps values). */
export function meloMetadata(): Record<string, string> {
  return {
    model_type: 'melo-vits',
    comment: 'melo',
    version: '2',
    language: 'English',
    add_blank: '1',
    n_speakers: '5',
    jieba: '0',
    sample_rate: '44100',
    bert_dim: '1024',
    ja_bert_dim: '768',
    speaker_id: '0',
    lang_id: '2',
    tone_start: '7',
    url: 'https://github.com/myshell-ai/MeloTTS',
    license: 'MIT license',
    description: 'MeloTTS is a high-quality multi-lingual text-to-speech library by MyShell.ai',
  };
}

export interface MeloModelOptions {
  /** Samples per input token at length_scale 1 (the real model makes ~2-10 frames of 512 samples per token). */
  samplesPerToken?: number;
  /** Replaces the metadata entirely (e.g. to drop or change a key). */
  metadata?: Record<string, string>;
  /** Chained 512x512 MatMuls per run, to make each run take time (see busyWork). */
  busyMatMuls?: number;
}

export const MELO_SAMPLES_PER_TOKEN = 1024;

/**
 * model.onnx bytes. Inputs/outputs as the real export declares them (scripts/melo-tts/show-info.py):
 * x int64 [N, L], x_lengths int64 [N], tones int64 [N, L], sid int64 [1], noise_scale/length_scale/noise_scale_w
 * float [1]; output y float [N, S, T]. Opset 13 like export-onnx-en.py.
 * Audio: token k gets ceil(length_scale * samplesPerToken) samples of a sine whose amplitude is x[k]/256 and whose
 * pitch rises with tones[k] and sid.
 */
export function buildMeloModel(options: MeloModelOptions = {}): Uint8Array {
  const metadata = options.metadata ?? meloMetadata();
  const sampleRate = Number(metadata.sample_rate ?? 44100);
  const g = new GraphBuilder();
  const axis2 = g.ints([2]);
  const amp = g.op('Unsqueeze', [g.op('Gather', [g.constant('float32', [MELO_EN_SYMBOLS.length], amplitudeTable(MELO_EN_SYMBOLS.length), 'enc_p.emb.weight'), 'x']), axis2]);
  const toneHz = g.op('Mul', [g.op('Cast', ['tones'], { to: 1 }), g.scalar(30)]);
  const speakerHz = g.op('Mul', [g.op('Cast', ['sid'], { to: 1 }), g.scalar(55)]);
  const freq = g.op('Unsqueeze', [g.op('Add', [g.op('Add', [toneHz, g.scalar(220)]), speakerHz]), axis2]);
  const frames = g.op('Ceil', [g.op('Mul', ['length_scale', g.scalar(options.samplesPerToken ?? MELO_SAMPLES_PER_TOKEN)])]);
  const t = g.op('Range', [g.scalar(0), g.op('Squeeze', [frames, g.ints([0])]), g.scalar(1)]);
  const phase = g.op('Mul', [g.op('Mul', [freq, t]), g.scalar((2 * Math.PI) / sampleRate)]);
  let wave = g.op('Mul', [g.op('Sin', [phase]), amp]);
  const busy = busyWork(g, 'noise_scale', options.busyMatMuls ?? 0);
  if (busy) wave = g.op('Add', [wave, busy]);
  g.op('Reshape', [wave, g.ints([0, 1, -1])], undefined, 'y');
  const inputs: ValueInfo[] = [
    { name: 'x', type: 'int64', shape: ['N', 'L'] },
    { name: 'x_lengths', type: 'int64', shape: ['N'] },
    { name: 'tones', type: 'int64', shape: ['N', 'L'] },
    { name: 'sid', type: 'int64', shape: [1] },
    { name: 'noise_scale', type: 'float32', shape: [1] },
    { name: 'length_scale', type: 'float32', shape: [1] },
    { name: 'noise_scale_w', type: 'float32', shape: [1] },
  ];
  return encodeOnnxModel({
    irVersion: 7,
    opset: 13,
    producerName: 'pytorch',
    producerVersion: '2.3.1',
    graphName: 'main_graph',
    inputs,
    outputs: [{ name: 'y', type: 'float32', shape: ['N', 'S', 'T'] }],
    nodes: g.nodes,
    initializers: g.initializers,
    metadata,
  });
}

export interface MeloFolder {
  dir: string;
  model: string;
  tokens: string;
  lexicon: string;
}

/** Write model.onnx + tokens.txt + lexicon.txt into `dir` (created). */
export async function writeMeloModel(dir: string, options: MeloModelOptions & { extraLexicon?: string[] } = {}): Promise<MeloFolder> {
  await mkdir(dir, { recursive: true });
  const folder = { dir, model: join(dir, 'model.onnx'), tokens: join(dir, 'tokens.txt'), lexicon: join(dir, 'lexicon.txt') };
  await writeFile(folder.model, buildMeloModel(options));
  // generate_tokens(): f"{s} {i}\n" for each symbol
  await writeFile(folder.tokens, MELO_EN_SYMBOLS.map((s, i) => `${s} ${i}\n`).join(''));
  await writeFile(folder.lexicon, meloLexicon() + (options.extraLexicon ?? []).map((l) => l + '\n').join(''));
  return folder;
}

// ---------------------------------------------------------------------------------------------------------------
// Piper

/** phoneme_id_map of Piper's English voices (rhasspy/piper etc/test_voice.onnx.json, = piper-phonemize's default map). */
export const PIPER_EN_PHONEME_ID_MAP: Readonly<Record<string, number[]>> = {
  "_": [0], "^": [1], "$": [2], " ": [3], "!": [4], "'": [5], "(": [6], ")": [7], ",": [8], "-": [9],
  ".": [10], ":": [11], ";": [12], "?": [13], "a": [14], "b": [15], "c": [16], "d": [17], "e": [18], "f": [19],
  "h": [20], "i": [21], "j": [22], "k": [23], "l": [24], "m": [25], "n": [26], "o": [27], "p": [28], "q": [29],
  "r": [30], "s": [31], "t": [32], "u": [33], "v": [34], "w": [35], "x": [36], "y": [37], "z": [38], "æ": [39],
  "ç": [40], "ð": [41], "ø": [42], "ħ": [43], "ŋ": [44], "œ": [45], "ǀ": [46], "ǁ": [47], "ǂ": [48], "ǃ": [49],
  "ɐ": [50], "ɑ": [51], "ɒ": [52], "ɓ": [53], "ɔ": [54], "ɕ": [55], "ɖ": [56], "ɗ": [57], "ɘ": [58], "ə": [59],
  "ɚ": [60], "ɛ": [61], "ɜ": [62], "ɞ": [63], "ɟ": [64], "ɠ": [65], "ɡ": [66], "ɢ": [67], "ɣ": [68], "ɤ": [69],
  "ɥ": [70], "ɦ": [71], "ɧ": [72], "ɨ": [73], "ɪ": [74], "ɫ": [75], "ɬ": [76], "ɭ": [77], "ɮ": [78], "ɯ": [79],
  "ɰ": [80], "ɱ": [81], "ɲ": [82], "ɳ": [83], "ɴ": [84], "ɵ": [85], "ɶ": [86], "ɸ": [87], "ɹ": [88], "ɺ": [89],
  "ɻ": [90], "ɽ": [91], "ɾ": [92], "ʀ": [93], "ʁ": [94], "ʂ": [95], "ʃ": [96], "ʄ": [97], "ʈ": [98], "ʉ": [99],
  "ʊ": [100], "ʋ": [101], "ʌ": [102], "ʍ": [103], "ʎ": [104], "ʏ": [105], "ʐ": [106], "ʑ": [107], "ʒ": [108], "ʔ": [109],
  "ʕ": [110], "ʘ": [111], "ʙ": [112], "ʛ": [113], "ʜ": [114], "ʝ": [115], "ʟ": [116], "ʡ": [117], "ʢ": [118], "ʲ": [119],
  "ˈ": [120], "ˌ": [121], "ː": [122], "ˑ": [123], "˞": [124], "β": [125], "θ": [126], "χ": [127], "ᵻ": [128], "ⱱ": [129],
};


export const PIPER_SAMPLES_PER_ID = 512;

export interface PiperVoiceOptions {
  sampleRate?: number;
  quality?: 'x_low' | 'low' | 'medium' | 'high';
  /** More than 1 adds the `sid` input, as export_onnx.py does for multi-speaker voices. */
  numSpeakers?: number;
  espeakVoice?: string;
  samplesPerId?: number;
  inference?: { noise_scale: number; length_scale: number; noise_w: number };
  /** Chained 512x512 MatMuls per run, to make each run take time (see busyWork). */
  busyMatMuls?: number;
}

/**
 * `<voice>.onnx` bytes with export_onnx.py's interface (opset 15): input int64 [batch_size, phonemes],
 * input_lengths int64 [batch_size], scales float [3] (noise_scale, length_scale, noise_w), sid int64 [1] only for
 * multi-speaker voices; output float, rank 4 ([batch, 1, 1, samples]: infer()[0].unsqueeze(1)). No
 * metadata_props: Piper keeps its settings in the .onnx.json.
 */
export function buildPiperModel(options: PiperVoiceOptions = {}): Uint8Array {
  const sampleRate = options.sampleRate ?? 22050;
  const multi = (options.numSpeakers ?? 1) > 1;
  const g = new GraphBuilder();
  const amp = g.op('Unsqueeze', [g.op('Gather', [g.constant('float32', [256], amplitudeTable(256), 'enc_p.emb.weight'), 'input']), g.ints([2])]);
  const lengthScale = g.op('Gather', ['scales', g.constant('int64', [], [1])]);
  const frames = g.op('Ceil', [g.op('Mul', [lengthScale, g.scalar(options.samplesPerId ?? PIPER_SAMPLES_PER_ID)])]);
  const t = g.op('Range', [g.scalar(0), frames, g.scalar(1)]);
  let freq = g.scalar(330);
  if (multi) freq = g.op('Add', [freq, g.op('Mul', [g.op('Cast', ['sid'], { to: 1 }), g.scalar(60)])]);
  const phase = g.op('Mul', [g.op('Mul', [t, freq]), g.scalar((2 * Math.PI) / sampleRate)]);
  let wave = g.op('Mul', [g.op('Sin', [phase]), amp]);
  const busy = busyWork(g, g.op('Gather', ['scales', g.constant('int64', [], [0])]), options.busyMatMuls ?? 0);
  if (busy) wave = g.op('Add', [wave, busy]);
  g.op('Reshape', [wave, g.ints([0, 1, 1, -1])], undefined, 'output');
  const inputs: ValueInfo[] = [
    { name: 'input', type: 'int64', shape: ['batch_size', 'phonemes'] },
    { name: 'input_lengths', type: 'int64', shape: ['batch_size'] },
    { name: 'scales', type: 'float32', shape: [3] },
  ];
  if (multi) inputs.push({ name: 'sid', type: 'int64', shape: [1] });
  return encodeOnnxModel({
    irVersion: 8,
    opset: 15,
    producerName: 'pytorch',
    producerVersion: '1.13.1',
    graphName: 'torch_jit',
    inputs,
    // dynamic_axes names dims 0 and 1; the last dim's symbolic name is the exporter's own (not reproduced here).
    outputs: [{ name: 'output', type: 'float32', shape: ['batch_size', 'time', 1, 'samples'] }],
    nodes: g.nodes,
    initializers: g.initializers,
  });
}

/** The `<voice>.onnx.json` of a voice, laid out like the published piper-voices configs. */
export function piperConfig(options: PiperVoiceOptions = {}): Record<string, unknown> {
  const numSpeakers = options.numSpeakers ?? 1;
  return {
    audio: { sample_rate: options.sampleRate ?? 22050, quality: options.quality ?? 'medium' },
    espeak: { voice: options.espeakVoice ?? 'en-us' },
    inference: options.inference ?? { noise_scale: 0.667, length_scale: 1, noise_w: 0.8 },
    phoneme_type: 'espeak',
    phoneme_map: {},
    phoneme_id_map: PIPER_EN_PHONEME_ID_MAP,
    num_symbols: 256,
    num_speakers: numSpeakers,
    speaker_id_map: numSpeakers > 1 ? Object.fromEntries(Array.from({ length: numSpeakers }, (_, i) => [`speaker_${i}`, i])) : {},
    piper_version: '1.0.0',
    language: { code: 'en_US', family: 'en', region: 'US', name_native: 'English', name_english: 'English', country_english: 'United States' },
    dataset: 'tiny',
  };
}

export interface PiperVoiceFiles {
  dir: string;
  onnx: string;
  json: string;
}

/** Write `<name>.onnx` and `<name>.onnx.json` into `dir` (created). */
export async function writePiperVoice(dir: string, name = 'en_US-tiny-medium', options: PiperVoiceOptions = {}): Promise<PiperVoiceFiles> {
  await mkdir(dir, { recursive: true });
  const files = { dir, onnx: join(dir, `${name}.onnx`), json: join(dir, `${name}.onnx.json`) };
  await writeFile(files.onnx, buildPiperModel(options));
  await writeFile(files.json, JSON.stringify(piperConfig(options), null, 2));
  return files;
}

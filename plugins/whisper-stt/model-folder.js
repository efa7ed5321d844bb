// Which Whisper folder to load, and whether it holds every file transformers.js will ask for.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const manifest = JSON.parse(readFileSync(new URL('./manifest.json', import.meta.url), 'utf8'));

/** transformers.js dtype → ONNX file suffix (utils/dtypes.js DEFAULT_DTYPE_SUFFIX_MAPPING). */
export const DTYPE_SUFFIX = { fp32: '', fp16: '_fp16', q8: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4' };

/** The files transformers.js loads for a Whisper ASR pipeline with this dtype. */
export function requiredFiles(dtype) {
  const suffix = DTYPE_SUFFIX[dtype] ?? DTYPE_SUFFIX.q8;
  return [
    'config.json',
    'generation_config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    `onnx/encoder_model${suffix}.onnx`,
    `onnx/decoder_model_merged${suffix}.onnx`,
  ];
}

/**
 * The Whisper folder from the `model` setting or the catalogue default in `modelDir`, with every required file
 * present; otherwise MODEL_MISSING naming the files looked for and the fix. `kit` is the plugin kit.
 */
export function resolveModelFolder(settings, modelDir, { pluginError, statOrNull }) {
  const isFile = (path) => statOrNull(path)?.isFile() === true;
  const dtype = settings.dtype ?? 'q8';
  const setting = typeof settings.model === 'string' && settings.model !== '' ? settings.model : null;
  const spec = manifest.models.find((m) => m.default) ?? manifest.models[0];
  const dir = setting ?? join(modelDir, spec.id);
  if (setting && !statOrNull(setting)?.isDirectory()) {
    throw pluginError('MODEL_MISSING', `model missing — whisper-stt.model is set to ${setting}, which is not a folder. Set whisper-stt.model to a Whisper folder in transformers.js layout (config.json, tokenizer.json, onnx/…), or unset it to use ${spec.id}.`, { details: { file: setting } });
  }
  const missing = requiredFiles(dtype).filter((f) => !isFile(join(dir, f)));
  if (missing.length > 0) {
    const looked = missing.map((f) => join(dir, f)).join(', ');
    const catalogueHas = !setting && dtype !== 'q8' && requiredFiles('q8').every((f) => isFile(join(dir, f)));
    const fix = setting
      ? `set whisper-stt.model to a complete Whisper folder${dtype !== 'q8' ? ` or set whisper-stt.dtype to one whose onnx files it has` : ''}`
      : catalogueHas
        ? `the catalogue model ships q8 weights only: set whisper-stt.dtype to q8`
        : `run \`npm run models -- pull ${spec.id}\``;
    throw pluginError('MODEL_MISSING', `model missing — ${fix} (looked for ${looked}).`, { details: { file: join(dir, missing[0]), modelId: setting ? undefined : spec.id } });
  }
  return { dir, id: setting ? null : spec.id, dtype };
}

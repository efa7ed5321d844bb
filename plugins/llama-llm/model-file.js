// Which .gguf file to run, and a cheap header check before a child process is spent on it. `kit` is the plugin
// kit (ctx.import('parley:kit')).
import { openSync, readSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const manifest = JSON.parse(readFileSync(new URL('./manifest.json', import.meta.url), 'utf8'));

/**
 * The model file from the `model` setting (a file, or a folder holding one .gguf) or the catalogue default in
 * `ctx.modelDir`. Throws MODEL_MISSING naming what was looked for and how to fix it.
 */
export function resolveModelFile(settings, modelDir, { pluginError, statOrNull }) {
  const setting = typeof settings.model === 'string' && settings.model !== '' ? settings.model : null;
  if (setting) {
    const stat = statOrNull(setting);
    if (!stat) {
      throw pluginError('MODEL_MISSING', `model missing — llama-llm.model is set to ${setting}, which does not exist. Set llama-llm.model to a local .gguf file, or unset it to use the default model.`, { details: { file: setting } });
    }
    if (stat.isDirectory()) {
      const ggufs = readdirSync(setting).filter((f) => f.toLowerCase().endsWith('.gguf') && !f.toLowerCase().includes('mmproj')).sort();
      if (ggufs.length === 0) {
        throw pluginError('MODEL_MISSING', `model missing — the folder ${setting} (llama-llm.model) holds no .gguf file. Set llama-llm.model to a local .gguf file.`, { details: { file: setting } });
      }
      return { path: join(setting, ggufs[0]), id: null, others: ggufs.slice(1) };
    }
    return { path: setting, id: null, others: [] };
  }
  const spec = manifest.models.find((m) => m.default) ?? manifest.models[0];
  const path = join(modelDir, spec.id, spec.files[0].path);
  if (!statOrNull(path)) {
    throw pluginError('MODEL_MISSING', `model missing — run \`npm run models -- pull ${spec.id}\` (looked for ${path}), or set llama-llm.model to a local .gguf file.`, { details: { file: path, modelId: spec.id } });
  }
  return { path, id: spec.id, others: [] };
}

/** Reject files that are certainly not GGUF (empty, HTML error pages, other formats) before loading them. */
export function checkGgufHeader(path, id, { pluginError }) {
  const fix = id ? `re-download it with \`npm run models -- pull ${id}\`` : 'point llama-llm.model at a valid .gguf file';
  let fd;
  const head = Buffer.alloc(8);
  let read = 0;
  try {
    fd = openSync(path, 'r');
    read = readSync(fd, head, 0, 8, 0);
  } catch (err) {
    throw pluginError('MODEL_CORRUPT', `${path} cannot be read (${err.message}); ${fix}.`, { details: { file: path } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (read < 8 || head.toString('latin1', 0, 4) !== 'GGUF') {
    throw pluginError('MODEL_CORRUPT', `${path} is not a GGUF model file (bad header); ${fix}.`, { details: { file: path } });
  }
  const version = head.readUInt32LE(4);
  if (version < 2 || version > 3) {
    throw pluginError('MODEL_CORRUPT', `${path} is GGUF version ${version}, which this llama.cpp cannot read; ${fix}.`, { details: { file: path } });
  }
}

/**
 * Where model files live. The layout `<modelsDir>/<modelId>/<file.path>` is the contract with the plugins,
 * which find their weights at `join(ctx.modelDir, modelId)`; nothing else in the core may invent another one.
 */
import { dirname, join, parse, resolve, sep } from 'node:path';
import { statfs, stat } from 'node:fs/promises';
import { ParleyError } from '../errors.ts';

/** Written next to a model's files: hashes recorded on download or verify (see integrity.ts). */
export const MODEL_META_FILE = '.parley-model.json';

export function modelFolder(modelsDir: string, modelId: string): string {
  if (modelId === '' || modelId === '.' || modelId === '..' || /[\\/]/.test(modelId)) {
    throw new ParleyError('MODEL_MISSING', `"${modelId}" is not a usable model id (it must be a plain folder name).`);
  }
  return join(resolve(modelsDir), modelId);
}

/** The final location of one file of a model; refuses paths that would leave the model's folder. */
export function modelFilePath(modelsDir: string, modelId: string, filePath: string): string {
  const folder = modelFolder(modelsDir, modelId);
  const full = resolve(folder, filePath);
  if (!full.startsWith(folder + sep)) {
    throw new ParleyError('MODEL_MISSING', `Model ${modelId}: file path "${filePath}" points outside its folder ${folder}.`);
  }
  return full;
}

/** Bytes in flight are written here and renamed into place only when complete and checked. */
export function partPath(finalPath: string): string {
  return `${finalPath}.part`;
}

/** Free bytes for an unprivileged user on the disk holding `dir` (or its nearest existing ancestor). */
export async function freeBytes(dir: string): Promise<number> {
  let probe = resolve(dir);
  for (;;) {
    try {
      await stat(probe);
      break;
    } catch {
      const up = dirname(probe);
      if (up === probe || probe === parse(probe).root) break;
      probe = up;
    }
  }
  const s = await statfs(probe);
  return Number(s.bavail) * Number(s.bsize);
}

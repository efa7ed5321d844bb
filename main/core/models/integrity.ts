/**
 * Knowing that a model's files are the right ones. Hashes come from the manifest when it has them; when it
 * does not, the hash of the first download (or of the first verify of a hand-copied file) is recorded in
 * `<model>/.parley-model.json` and later checks compare against that: trust on first use, said out loud.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_META_FILE } from './paths.ts';
import type { ChecksumSource } from '../../shared/models.ts';

export type { ChecksumSource } from '../../shared/models.ts';

export interface FileRecord {
  sha256: string;
  source: ChecksumSource;
  /** What the file looked like when last hashed: a changed size or mtime means "not verified any more". */
  size: number;
  mtimeMs: number;
  checkedAt: string;
  /** Set by a failed verify: the hash actually found. Cleared by a good download or verify. */
  corrupt?: { actual: string; at: string };
}

export interface ModelMeta {
  modelId: string;
  files: Record<string, FileRecord>;
}

export async function readModelMeta(folder: string, modelId: string): Promise<ModelMeta> {
  try {
    const raw = JSON.parse(await readFile(join(folder, MODEL_META_FILE), 'utf8')) as Partial<ModelMeta>;
    return { modelId, files: raw.files && typeof raw.files === 'object' ? raw.files : {} };
  } catch {
    return { modelId, files: {} };
  }
}

/** Written whole and renamed, so a crash never leaves half a record. */
export async function writeModelMeta(folder: string, meta: ModelMeta): Promise<void> {
  const path = join(folder, MODEL_META_FILE);
  await writeFile(`${path}.tmp`, JSON.stringify(meta, null, 2) + '\n');
  await rename(`${path}.tmp`, path);
}

export async function hashFile(path: string, options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<string> {
  const hash = createHash('sha256');
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  for await (const chunk of stream) {
    if (options.signal?.aborted) {
      stream.destroy();
      throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
    }
    hash.update(chunk as Buffer);
    options.onBytes?.((chunk as Buffer).length);
  }
  return hash.digest('hex');
}

/**
 * Verifying a model on disk: every file present, and its sha256 equal to the manifest's — or, when the
 * manifest has none, to the hash recorded on first use (recorded now if this is the first look at a file
 * copied by hand). A bad file is reported, not deleted: it may be the user's only copy.
 */
import { stat } from 'node:fs/promises';
import { ParleyError } from '../errors.ts';
import type { EventOf } from '../event-bus.ts';
import type { CatalogEntry } from './catalog.ts';
import { hashFile, readModelMeta, writeModelMeta, type ChecksumSource } from './integrity.ts';
import { checksumMismatchMessage, pullCommand } from './messages.ts';
import { modelFilePath, modelFolder } from './paths.ts';
import { ProgressMeter } from './progress.ts';
import type { VerifiedFile } from '../../shared/models.ts';

export type { VerifiedFile } from '../../shared/models.ts';

export interface VerifyResult {
  id: string;
  dir: string;
  ok: boolean;
  status: 'ok' | 'missing' | 'corrupt';
  files: VerifiedFile[];
  /** MODEL_MISSING or MODEL_CORRUPT with the sentence to show, when not ok. */
  error?: ParleyError;
}

export async function verifyModel(
  entry: CatalogEntry,
  options: { modelsDir: string; emit: (event: EventOf<'model.progress'>) => void; signal?: AbortSignal; intervalMs?: number | undefined },
): Promise<VerifyResult> {
  const id = entry.id;
  const dir = modelFolder(options.modelsDir, id);
  const meta = await readModelMeta(dir, id);
  const meter = new ProgressMeter(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs });
  const sizes = await Promise.all(entry.files.map((f) => stat(modelFilePath(options.modelsDir, id, f.path)).then((s) => s.size, () => null)));
  const total = sizes.reduce<number>((a, s) => a + (s ?? 0), 0);
  let bytes = 0;
  const emit = (state: EventOf<'model.progress'>['state'], force: boolean, error?: string) => {
    if (!force && !meter.due()) return;
    const { rate, etaSec } = meter.sample(bytes, bytes, total);
    options.emit({ type: 'model.progress', modelId: id, state, bytes, total, rate, etaSec, ...(error ? { error } : {}), at: Date.now() });
  };

  const files: VerifiedFile[] = [];
  emit('verifying', true);
  try {
    await hashAll();
  } catch (err) {
    if (!options.signal?.aborted) throw err;
    emit('cancelled', true);
    throw new ParleyError('CANCELLED', `Verifying ${id} was cancelled.`, { details: { modelId: id } });
  }
  async function hashAll(): Promise<void> {
    for (const [i, spec] of entry.files.entries()) {
      const path = modelFilePath(options.modelsDir, id, spec.path);
      if (sizes[i] === null) {
        files.push({ path: spec.path, status: 'missing' });
        continue;
      }
      const actual = await hashFile(path, {
        ...(options.signal ? { signal: options.signal } : {}),
        onBytes: (n) => {
          bytes += n;
          emit('verifying', false);
        },
      });
      const s = await stat(path);
      const record = meta.files[spec.path];
      const source: ChecksumSource = spec.sha256 ? 'manifest' : 'first-use';
      const expected = spec.sha256 ?? record?.sha256;
      const now = new Date().toISOString();
      if (!expected) {
        meta.files[spec.path] = { sha256: actual, source, size: s.size, mtimeMs: s.mtimeMs, checkedAt: now };
        files.push({ path: spec.path, status: 'recorded', source, actual });
      } else if (expected === actual) {
        meta.files[spec.path] = { sha256: actual, source, size: s.size, mtimeMs: s.mtimeMs, checkedAt: now };
        files.push({ path: spec.path, status: 'ok', source, expected, actual });
      } else {
        // Keep the trusted hash; mark the file so `list` shows it as failed until it is replaced.
        meta.files[spec.path] = { sha256: expected, source, size: s.size, mtimeMs: s.mtimeMs, checkedAt: now, corrupt: { actual, at: now } };
        files.push({ path: spec.path, status: 'mismatch', source, expected, actual });
      }
    }
  }
  if (files.some((f) => f.status !== 'missing')) await writeModelMeta(dir, meta);

  const missing = files.filter((f) => f.status === 'missing');
  const bad = files.filter((f) => f.status === 'mismatch');
  let error: ParleyError | undefined;
  if (bad.length > 0) {
    const first = bad[0]!;
    const more = bad.length > 1 ? ` (${bad.length - 1} more file${bad.length > 2 ? 's' : ''} also bad: ${bad.slice(1).map((f) => f.path).join(', ')})` : '';
    error = new ParleyError(
      'MODEL_CORRUPT',
      checksumMismatchMessage({ modelId: id, filePath: first.path, expected: first.expected!, actual: first.actual!, source: first.source!, removed: false }) + more,
      { details: { modelId: id, files: bad } },
    );
  } else if (missing.length > 0) {
    const what = missing.length === files.length ? `is not installed (nothing in ${dir})` : `is incomplete: ${missing.map((f) => f.path).join(', ')} missing in ${dir}`;
    error = new ParleyError('MODEL_MISSING', `${id} ${what} — run \`${pullCommand(id)}\`.`, { details: { modelId: id, missing: missing.map((f) => f.path) } });
  }
  emit(error ? 'failed' : 'done', true, error?.message);
  return { id, dir, ok: !error, status: bad.length > 0 ? 'corrupt' : missing.length > 0 ? 'missing' : 'ok', files, ...(error ? { error } : {}) };
}

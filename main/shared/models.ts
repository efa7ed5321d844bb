/** Models as the GUI and the control API see them: the catalogue with what is on disk, and verify results. */
import type { ModelFileSpec, PluginKind } from './plugins.ts';

/** Where a file's expected hash came from: the plugin's manifest, or recorded on first use. */
export type ChecksumSource = 'manifest' | 'first-use';

export interface CatalogEntry {
  id: string;
  /** The plugin whose manifest lists this model (the first one, when several do). */
  plugin: string;
  kind: PluginKind;
  description?: string;
  license?: string;
  /** Total bytes: the manifest's `size`, else the sum of its files' sizes when all are known. */
  size: number | null;
  files: ModelFileSpec[];
  /** The plugin's catalogue default. */
  isDefault: boolean;
}

export interface ModelInfo extends CatalogEntry {
  dir: string;
  /** `installed`: every file is in place; `partial`: some files or a kept `.part`; `missing`: nothing. */
  status: 'installed' | 'partial' | 'missing';
  bytesOnDisk: number;
  missingFiles: string[];
  /**
   * true: every file was hashed and matched, and has not changed since; false: the last verify found a
   * mismatch; null: not checked since it was put there (copied by hand, or downloaded before hashes existed).
   */
  verified: boolean | null;
  pulling: boolean;
}

export interface VerifiedFile {
  path: string;
  /** `recorded`: no hash to compare with yet, so this one was recorded (trust on first use). */
  status: 'ok' | 'recorded' | 'missing' | 'mismatch';
  source?: ChecksumSource;
  expected?: string;
  actual?: string;
}

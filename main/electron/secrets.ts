/**
 * Secrets typed into Settings (Twilio auth token, ngrok authtoken), kept encrypted with Electron's safeStorage
 * (macOS Keychain, Windows DPAPI, libsecret/KWallet on Linux) in <userData>/secrets.json — ciphertext only.
 * They are read once at start-up into the core's config and never sent back to the renderer.
 *
 * Where safeStorage has no real keychain (Linux without a secret service falls back to a hard-coded key,
 * "basic_text"), saving is refused with the alternative: set the variable in the environment or `.env`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SafeStorage } from 'electron';
import { SECRET_SETTINGS, type SecretKey } from '../shared/contract.ts';
import type { SecretStore } from '../core/settings.ts';

type Storage = Pick<SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'> & Partial<Pick<SafeStorage, 'getSelectedStorageBackend'>>;

export const NO_KEYCHAIN_DETAIL =
  'This computer has no OS keychain Parley can use (on Linux: GNOME Keyring or KWallet), so secrets are not saved. Set TWILIO_AUTH_TOKEN / NGROK_AUTHTOKEN in the environment or in .env instead, and restart Parley.';
export const KEYCHAIN_DETAIL = 'Saved encrypted with the OS keychain; never shown again after saving.';

export class SafeStorageSecrets implements SecretStore {
  readonly #file: string;
  readonly #storage: Storage;
  readonly #platform: NodeJS.Platform;

  constructor(file: string, storage: Storage, platform: NodeJS.Platform = process.platform) {
    this.#file = file;
    this.#storage = storage;
    this.#platform = platform;
  }

  writable(): { writable: boolean; detail: string } {
    if (!this.#storage.isEncryptionAvailable()) return { writable: false, detail: NO_KEYCHAIN_DETAIL };
    if (this.#platform === 'linux' && this.#storage.getSelectedStorageBackend?.() === 'basic_text') return { writable: false, detail: NO_KEYCHAIN_DETAIL };
    return { writable: true, detail: KEYCHAIN_DETAIL };
  }

  has(key: SecretKey): boolean {
    return key in this.#read();
  }

  save(key: SecretKey, value: string): void {
    const w = this.writable();
    if (!w.writable) throw new Error(w.detail);
    const all = this.#read();
    all[key] = this.#storage.encryptString(value).toString('base64');
    this.#write(all);
  }

  clear(key: SecretKey): void {
    const all = this.#read();
    delete all[key];
    this.#write(all);
  }

  /** Decrypted secrets for the core's config at start-up. One that no longer decrypts is skipped (reported). */
  load(onProblem: (key: SecretKey, err: unknown) => void = () => {}): Partial<Record<SecretKey, string>> {
    const out: Partial<Record<SecretKey, string>> = {};
    if (!this.#storage.isEncryptionAvailable()) return out;
    for (const [key, cipher] of Object.entries(this.#read()) as [SecretKey, string][]) {
      if (!SECRET_SETTINGS.includes(key)) continue;
      try {
        out[key] = this.#storage.decryptString(Buffer.from(cipher, 'base64'));
      } catch (err) {
        onProblem(key, err);
      }
    }
    return out;
  }

  #read(): Record<string, string> {
    if (!existsSync(this.#file)) return {};
    try {
      const parsed = JSON.parse(readFileSync(this.#file, 'utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
    } catch {
      return {};
    }
  }

  #write(all: Record<string, string>): void {
    mkdirSync(dirname(this.#file), { recursive: true });
    writeFileSync(`${this.#file}.tmp`, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
    renameSync(`${this.#file}.tmp`, this.#file);
  }
}

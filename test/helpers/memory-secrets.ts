/** A writable SecretStore kept in memory: the desktop app's keychain, for tests. */
import type { SecretStore } from '../../main/core/settings.ts';

export class MemorySecrets implements SecretStore {
  saved = new Map<string, string>();
  writable() {
    return { writable: true, detail: 'test keychain' };
  }
  has(k: string) {
    return this.saved.has(k);
  }
  save(k: string, v: string) {
    this.saved.set(k, v);
  }
  clear(k: string) {
    this.saved.delete(k);
  }
}

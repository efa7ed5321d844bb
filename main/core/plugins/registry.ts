/**
 * The live set of plugins: scans the plugin folders, imports each (in a throwaway worker), picks the active
 * plugin of each kind, and hands out leases on running instances. Folder changes are picked up live: a
 * changed plugin gets a fresh instance for new calls, while calls in progress keep the one they started with.
 */
import { watch, type FSWatcher } from 'node:fs';
import { ParleyError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { CoreEvents } from '../event-bus.ts';
import { PLUGIN_KINDS, REQUIRED_PLUGIN_KINDS, type InstanceByKind, type ModelSpec, type PluginKind, type SettingSpec } from './api.ts';
import { scanPlugins, type FoundPlugin, type PluginProblem, type PluginSource } from './loader.ts';
import { SECRET_SHOWN, effectiveSettings, isSecretSetting, redactSettings } from './manifest.ts';
import { PluginProxy, inspectPlugins, type PluginProxyOptions } from './plugin-proxy.ts';
import { WorkerPool } from './worker-pool.ts';
import type { PluginInfo, ToolSpec } from '../../shared/plugins.ts';

/** The plugin picked when several of a kind exist and the user has not chosen. */
export const DEFAULT_PLUGINS: Record<PluginKind, string> = { stt: 'moonshine-stt', llm: 'llama-llm', tts: 'piper-tts', turn: 'smart-turn', tool: '' /* none: every tool plugin is active */ };

/**
 * The name that turns an optional kind (`turn`) off. For an optional kind only the built-in default is ever picked
 * by itself, and only while it can run (its model is there): any other plugin of the kind must be chosen by name.
 */
export const NO_PLUGIN = 'none';

/** A kind a call can do without (turn): no plugin of it is not an error. */
export const isOptionalKind = (kind: PluginKind) => !REQUIRED_PLUGIN_KINDS.includes(kind);

export type { PluginInfo } from '../../shared/plugins.ts';

export interface Lease<K extends PluginKind> {
  name: string;
  instance: InstanceByKind[K];
  release(): void;
}

export interface PluginRegistryOptions {
  builtinDir: string | null;
  userDir: string | null;
  active?: Partial<Record<PluginKind, string>>;
  settings?: Record<string, Record<string, unknown>>;
  modelDir: string;
  log: Logger;
  events?: CoreEvents;
  watch?: boolean;
  /** Start the active plugins' instances right away (warm-up) instead of at the first call. */
  warm?: boolean;
  worker?: PluginProxyOptions;
  /** Worker processes per plugin of a kind (a WorkerPool: fair per-call queue); a kind not listed runs in one process. */
  pools?: Partial<Record<PluginKind, number>>;
  /** Whether a tool is offered to calls (`--tools`), for the Plugins view. Default: all are. */
  toolOffered?(tool: string, plugin: string): boolean;
}

/** Persona voices kept running at once (each is a TTS instance, or a pool of them). */
const MAX_VOICES = 4;

/** One plugin's running instance: one worker process, or a pool of them. */
type PluginWorker = PluginProxy | WorkerPool;

interface Entry {
  found: FoundPlugin;
  importError: string | null;
  worker: PluginWorker | null;
  leases: number;
}

interface Retired {
  worker: PluginWorker;
  leases: number;
}

export class PluginRegistry {
  readonly #opts: PluginRegistryOptions;
  readonly #log: Logger;
  #entries = new Map<string, Entry>();
  #problems: PluginProblem[] = [];
  readonly #active: Partial<Record<PluginKind, string>>;
  readonly #settings: Record<string, Record<string, unknown>>;
  readonly #retired = new Set<Retired>();
  /** Persona voices (acquireVoice): a TTS plugin run with other settings, one instance per plugin + settings. */
  readonly #variants = new Map<string, Entry>();
  #watchers: FSWatcher[] = [];
  #debounce: NodeJS.Timeout | null = null;
  #scanning: Promise<void> | null = null;
  #rescanQueued = false;
  #stopped = false;
  #leaseSeq = 0;
  /** The tool plugin acquireTools() is leasing (acquire() has one name per kind). */
  #activeTool: string | null = null;

  constructor(options: PluginRegistryOptions) {
    this.#opts = options;
    this.#log = options.log.child({ component: 'plugins' });
    this.#active = { ...options.active };
    this.#settings = structuredClone(options.settings ?? {});
  }

  async start(): Promise<void> {
    await this.rescan();
    if (this.#opts.watch) this.#watch();
  }

  /** Rescan now (serialised: a rescan requested during one runs right after it). */
  rescan(): Promise<void> {
    if (this.#scanning) {
      this.#rescanQueued = true;
      return this.#scanning;
    }
    this.#scanning = this.#scan().finally(() => {
      this.#scanning = null;
      if (this.#rescanQueued && !this.#stopped) {
        this.#rescanQueued = false;
        void this.rescan();
      }
    });
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    const { plugins, problems } = await scanPlugins(this.#opts.builtinDir, this.#opts.userDir);
    if (this.#stopped) return;
    const next = new Map<string, Entry>();
    let changed = problems.length !== this.#problems.length;
    const fresh: FoundPlugin[] = [];
    for (const found of plugins) {
      const old = this.#entries.get(found.manifest.name);
      if (old && old.found.fingerprint === found.fingerprint && old.found.dir === found.dir) next.set(found.manifest.name, old);
      else fresh.push(found);
    }
    const importErrors = await inspectPlugins(fresh.map((f) => ({ dir: f.dir, main: f.manifest.main })), this.#log);
    if (this.#stopped) return;
    fresh.forEach((found, i) => {
      const old = this.#entries.get(found.manifest.name);
      const importError = importErrors[i];
      changed = true;
      if (old) this.#retire(old);
      this.#retireVariants(found.manifest.name);
      next.set(found.manifest.name, { found, importError: importError ? `${found.dir}: ${errorMessage(importError)}` : null, worker: null, leases: 0 });
      this.#log.info(old ? 'plugin changed' : 'plugin found', { name: found.manifest.name, kind: found.manifest.kind, source: found.source, error: importError ? errorMessage(importError) : undefined });
    });
    for (const [name, old] of this.#entries) {
      if (!next.has(name)) {
        changed = true;
        this.#retire(old);
        this.#retireVariants(name);
        this.#log.info('plugin removed', { name });
      }
    }
    for (const p of problems) if (!this.#problems.some((q) => q.message === p.message)) this.#log.warn('plugin skipped', { dir: p.dir, error: p.message });
    this.#entries = next;
    this.#problems = problems;
    if (this.#opts.warm) for (const kind of PLUGIN_KINDS) this.#warm(kind);
    if (changed) this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() });
  }

  #warm(kind: PluginKind): void {
    if (kind === 'tool') return this.#warmTools();
    const name = this.#candidate(kind);
    const entry = name ? this.#entries.get(name) : undefined;
    if (!entry || entry.importError) return;
    this.#workerFor(entry)
      .start()
      .then(
        () => this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() }),
        (err) => {
          this.#log.warn('plugin could not start', { name, error: errorMessage(err) });
          this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() });
        },
      );
  }

  #workerFor(entry: Entry, settings: Record<string, unknown> | undefined = this.#settings[entry.found.manifest.name]): PluginWorker {
    if (!entry.worker) {
      const m = entry.found.manifest;
      const spec = { name: m.name, kind: m.kind, dir: entry.found.dir, main: m.main, settings: effectiveSettings(m, settings), modelDir: this.#opts.modelDir };
      const size = this.#opts.pools?.[m.kind];
      entry.worker = size ? new WorkerPool(spec, this.#log, size, this.#opts.worker) : new PluginProxy(spec, this.#log, this.#opts.worker);
    }
    return entry.worker;
  }

  /** Old instances live until the last call using them ends. */
  #retire(entry: Entry): void {
    if (!entry.worker) return;
    const retired = { worker: entry.worker, leases: entry.leases };
    entry.worker = null;
    entry.leases = 0;
    if (retired.leases === 0) void retired.worker.dispose();
    else this.#retired.add(retired);
  }

  #watch(): void {
    const dirs = [this.#opts.builtinDir, this.#opts.userDir].filter((d): d is string => !!d);
    const schedule = () => {
      if (this.#debounce) clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => void this.rescan(), 250);
    };
    for (const dir of dirs) {
      try {
        this.#watchers.push(watch(dir, { recursive: true }, schedule));
      } catch (err) {
        this.#log.warn('cannot watch plugins folder; changes need a restart', { dir, error: errorMessage(err) });
      }
    }
  }

  /**
   * Name of the active plugin of a kind: chosen > the only one > the built-in default > first by name. For an
   * optional kind (turn): chosen (`none`: null) > the built-in default, unless it failed to start (its model is
   * missing) > null.
   */
  activeName(kind: PluginKind): string | null {
    const name = this.#candidate(kind);
    if (!name || !isOptionalKind(kind) || this.#active[kind]) return name;
    return this.#entries.get(name)?.worker?.state === 'failed' ? null : name;
  }

  /** The plugin a kind would use, before asking whether an optional kind's default can run. */
  #candidate(kind: PluginKind): string | null {
    if (kind === 'tool') return null; // no single one: see acquireTools()
    const usable = [...this.#entries.values()].filter((e) => e.found.manifest.kind === kind).map((e) => e.found.manifest.name);
    const chosen = this.#active[kind];
    if (chosen) return usable.includes(chosen) ? chosen : null;
    if (isOptionalKind(kind)) return usable.includes(DEFAULT_PLUGINS[kind]) ? DEFAULT_PLUGINS[kind] : null;
    if (usable.length === 1) return usable[0]!;
    if (usable.includes(DEFAULT_PLUGINS[kind])) return DEFAULT_PLUGINS[kind];
    return usable[0] ?? null;
  }

  /** Choose the plugin of a kind for new calls; `none` turns an optional kind (turn) off. */
  setActive(kind: PluginKind, name: string): void {
    if (kind === 'tool') throw new ParleyError('BAD_REQUEST', 'Every tool plugin is active at once; choose the tools offered with --tools NAME,NAME (PARLEY_TOOLS).');
    if (name === NO_PLUGIN && isOptionalKind(kind)) {
      this.#active[kind] = NO_PLUGIN;
      this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() });
      return;
    }
    const entry = this.#entries.get(name);
    if (!entry) throw new ParleyError('PLUGIN_NOT_FOUND', `No plugin named "${name}". Installed ${kind} plugins: ${this.#namesOf(kind)}.`);
    if (entry.found.manifest.kind !== kind) throw new ParleyError('BAD_REQUEST', `"${name}" is a ${entry.found.manifest.kind} plugin, not ${kind}.`);
    this.#active[kind] = name;
    if (this.#opts.warm) this.#warm(kind);
    this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() });
  }

  /** Change a plugin's settings: new calls get a fresh instance with them. */
  setSettings(name: string, settings: Record<string, unknown>): void {
    const entry = this.#entries.get(name);
    const next = { ...settings };
    // A secret sent back as list() shows it ("[set]") means "unchanged", not a new key.
    for (const [key, spec] of Object.entries(entry?.found.manifest.settings ?? {})) if (isSecretSetting(spec) && next[key] === SECRET_SHOWN) {
      if (this.#settings[name] && key in this.#settings[name]) next[key] = this.#settings[name][key];
      else delete next[key];
    }
    this.#settings[name] = next;
    this.#retireVariants(name);
    if (!entry) return;
    this.#retire(entry);
    if (this.#opts.warm && PLUGIN_KINDS.some((k) => this.#candidate(k) === name)) this.#warm(entry.found.manifest.kind);
    this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() });
  }

  #namesOf(kind: PluginKind): string {
    return [...this.#entries.values()].filter((e) => e.found.manifest.kind === kind).map((e) => e.found.manifest.name).join(', ') || 'none';
  }

  /**
   * The plugin of an optional kind (turn) for one call, or null — never an error: when the user chose `none`,
   * when no such plugin is installed, or when it cannot run (it does not load, or its create() failed, say for a
   * missing model: then it is tried again in the background, so a model downloaded meanwhile is picked up).
   */
  acquireOptional<K extends 'turn'>(kind: K): Lease<K> | null {
    const name = this.#candidate(kind);
    const entry = name ? this.#entries.get(name) : undefined;
    if (!entry || entry.importError) return null;
    const worker = this.#workerFor(entry);
    if (worker.state === 'failed') {
      // start() answers with the same failure until its retry interval has passed, then really tries again.
      void worker.start().then(
        () => this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() }),
        () => {},
      );
      return null;
    }
    return this.acquire(kind);
  }

  /** Take the active plugin of a kind for one call. Always release() when the call ends. */
  acquire<K extends PluginKind>(kind: K): Lease<K> {
    const name = kind === 'tool' ? this.#activeTool : isOptionalKind(kind) ? this.#candidate(kind) : this.activeName(kind);
    const entry = name ? this.#entries.get(name) : undefined;
    if (!name || !entry) {
      const chosen = this.#active[kind];
      if (chosen === NO_PLUGIN && isOptionalKind(kind)) throw new ParleyError('PLUGIN_NOT_FOUND', `No ${kind} plugin is in use (${kind} is set to "${NO_PLUGIN}").`);
      throw new ParleyError(
        'PLUGIN_NOT_FOUND',
        chosen ? `The ${kind} plugin "${chosen}" is not installed (have: ${this.#namesOf(kind)}). Pick another with --${kind} NAME or in Settings.` : `No ${kind} plugin is installed. Add one to the plugins folder (see docs/plugins.md).`,
      );
    }
    if (entry.importError) throw new ParleyError('PLUGIN_LOAD_FAILED', entry.importError);
    return this.#lease(entry, name, this.#workerFor(entry));
  }

  /**
   * A persona's voice for one call: the TTS plugin `name` with `overrides` over its settings, in an instance of its
   * own (one per plugin + settings, shared by the calls that use it). The active TTS plugin with its own settings is
   * plain acquire('tts'). Null when there is no such TTS plugin or that instance failed to start: the caller then
   * uses the app's voice (and says so).
   */
  acquireVoice(name: string, overrides: Record<string, unknown>): Lease<'tts'> | null {
    return this.acquireVariant('tts', name, overrides);
  }

  /** Does plugin `name` declare setting `key` (e.g. an STT plugin's `language`)? */
  hasSetting(name: string, key: string): boolean {
    return Object.hasOwn(this.#entries.get(name)?.found.manifest.settings ?? {}, key);
  }

  /**
   * Plugin `name` of `kind` with `overrides` over its settings, for one call (a persona's voice, or its language for
   * speech-to-text): as acquireVoice, for any kind one call leases alone.
   */
  acquireVariant<K extends 'stt' | 'tts'>(kind: K, name: string, overrides: Record<string, unknown>): Lease<K> | null {
    const base = this.#entries.get(name);
    if (!base || base.found.manifest.kind !== kind || base.importError) return null;
    const m = base.found.manifest;
    const own = effectiveSettings(m, this.#settings[name]);
    const settings = { ...(this.#settings[name] ?? {}), ...overrides };
    const key = `${name}\n${stableJson(effectiveSettings(m, settings))}`;
    if (name === this.activeName(kind) && key === `${name}\n${stableJson(own)}`) return this.acquire(kind);
    let variant = this.#variants.get(key);
    if (variant && variant.found !== base.found) {
      this.#retire(variant);
      variant = undefined;
    }
    if (!variant) variant = { found: base.found, importError: null, worker: null, leases: 0 };
    // Most recently used last; beyond MAX_VOICES the idle ones longest unused stop (their processes end).
    this.#variants.delete(key);
    this.#variants.set(key, variant);
    for (const [k, v] of this.#variants) {
      if (this.#variants.size <= MAX_VOICES) break;
      if (v.leases > 0 || k === key) continue;
      this.#retire(v);
      this.#variants.delete(k);
    }
    const worker = this.#workerFor(variant, settings);
    if (worker.state === 'failed') {
      // Tried again in the background, as acquireOptional does: a model downloaded meanwhile is picked up.
      void worker.start().catch(() => {});
      return null;
    }
    if (this.#opts.warm) void worker.start().catch((err) => this.#log.warn('persona voice could not start', { name, error: errorMessage(err) }));
    return this.#lease<K>(variant, name, worker);
  }

  /** Persona variants of a plugin that changed (new code, new app settings, removed) are started afresh. */
  #retireVariants(name: string): void {
    for (const [key, v] of this.#variants) {
      if (v.found.manifest.name !== name) continue;
      this.#retire(v);
      this.#variants.delete(key);
    }
  }

  #lease<K extends PluginKind>(entry: Entry, name: string, worker: PluginWorker): Lease<K> {
    entry.leases++;
    let released = false;
    // A pool queues each lease (one call) in its own lane when a request carries no callSid.
    const instance = worker instanceof WorkerPool ? worker.forLane(`lease-${++this.#leaseSeq}`) : worker;
    return {
      name,
      instance: instance as unknown as InstanceByKind[K],
      release: () => {
        if (released) return;
        released = true;
        if (entry.worker === worker) {
          entry.leases--;
          return;
        }
        for (const r of this.#retired) {
          if (r.worker !== worker) continue;
          if (--r.leases <= 0) {
            this.#retired.delete(r);
            void r.worker.dispose();
          }
        }
      },
    };
  }

  list(): PluginInfo[] {
    return [...this.#entries.values()].map((e) => {
      const m = e.found.manifest;
      const w = e.worker;
      const status: PluginInfo['status'] = e.importError ? 'broken' : !w || w.state === 'idle' ? 'loaded' : w.state === 'starting' ? 'starting' : w.state === 'ready' ? 'ready' : w.state === 'failed' ? 'failed' : 'loaded';
      return {
        name: m.name,
        kind: m.kind,
        version: m.version,
        description: m.description,
        dir: e.found.dir,
        source: e.found.source,
        active: m.kind === 'tool' ? !e.importError : this.activeName(m.kind) === m.name,
        ...(m.kind === 'tool' ? { tools: toolsOf(w).map((t) => ({ ...t, offered: this.#opts.toolOffered?.(t.name, m.name) ?? true })) } : {}),
        status,
        error: e.importError ?? (w?.lastError ? errorMessage(w.lastError) : null),
        settings: m.settings,
        // Secret settings (an API key) are shown as set / not set, never as their value.
        values: redactSettings(m.settings, effectiveSettings(m, this.#settings[m.name])),
        models: m.models,
      };
    });
  }

  /** The model a plugin runs: its `model` setting (a path: shown by file name) or its catalogue default. */
  modelOf(name: string): string | null {
    const entry = this.#entries.get(name);
    if (!entry) return null;
    const m = entry.found.manifest;
    const setting = effectiveSettings(m, this.#settings[name]).model;
    // A `path` model is a local file (shown by its name); any other `model` (openai-llm's) is a name on a server.
    if (typeof setting === 'string' && setting) return m.settings.model?.type === 'path' ? (setting.split(/[\\/]/).filter(Boolean).pop() ?? setting) : setting;
    return m.models.find((x) => x.default)?.id ?? m.models[0]?.id ?? null;
  }

  /** Give plugins whose create() failed (a missing model, say) a fresh start. */
  async retryFailed(): Promise<void> {
    for (const entry of this.#entries.values()) {
      if (entry.worker?.state !== 'failed') continue;
      this.#retire(entry);
      if (this.#opts.warm && PLUGIN_KINDS.some((k) => this.#candidate(k) === entry.found.manifest.name)) this.#warm(entry.found.manifest.kind);
    }
    this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() });
  }

  /**
   * Tool plugins (extension to v1): every one is active at once. A lease on each that can run, for one call
   * (release each when the call ends); one whose create() failed is skipped and tried again in the background.
   */
  acquireTools(): Lease<'tool'>[] {
    const leases: Lease<'tool'>[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.found.manifest.kind !== 'tool' || entry.importError) continue;
      const worker = this.#workerFor(entry);
      if (worker.state === 'failed') {
        void worker.start().catch(() => {});
        continue;
      }
      this.#activeTool = entry.found.manifest.name;
      leases.push(this.acquire('tool'));
    }
    this.#activeTool = null;
    return leases;
  }

  #warmTools(): void {
    for (const entry of this.#entries.values()) {
      if (entry.found.manifest.kind !== 'tool' || entry.importError) continue;
      const name = entry.found.manifest.name;
      this.#workerFor(entry)
        .start()
        .then(
          () => this.#opts.events?.emit({ type: 'plugins.changed', at: Date.now() }),
          (err) => this.#log.warn('tool plugin could not start', { name, error: errorMessage(err) }),
        );
    }
  }

  problems(): PluginProblem[] {
    return [...this.#problems];
  }

  manifests() {
    return [...this.#entries.values()].map((e) => e.found.manifest);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#debounce) clearTimeout(this.#debounce);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    await this.#scanning?.catch(() => {});
    const all = [...this.#entries.values(), ...this.#variants.values()].map((e) => e.worker).filter((w): w is PluginWorker => !!w);
    this.#variants.clear();
    for (const r of this.#retired) all.push(r.worker);
    this.#retired.clear();
    await Promise.all(all.map((w) => w.dispose()));
  }
}

/** JSON with object keys sorted: the same settings give the same text whatever order they were written in. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** A tool plugin's tools once its worker has started (a pool, used only for stt/tts, has none). */
function toolsOf(worker: unknown): ToolSpec[] {
  return worker instanceof PluginProxy ? worker.tools : [];
}

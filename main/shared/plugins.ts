/**
 * Plugins as the GUI and the control API see them: kinds, declared settings and models (the manifest's
 * shapes, also part of the plugin contract in main/core/plugins/api.ts), and the registry's view of each one.
 */

/**
 * `turn` (a turn model, extension to v1) is optional: without one, a turn ends after the silence. `tool`
 * (extension to v1): any number are active at once, each offering the LLM one or more tools.
 */
export type PluginKind = 'stt' | 'llm' | 'tts' | 'turn' | 'tool';

/** A tool as offered to the LLM: its parameters are a JSON Schema (an object schema). */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  /** The tool waits for Approve / Deny at the desk before it runs (unless `--ask-first` is set explicitly). Never sent to the LLM. */
  askFirst?: boolean;
}

/** A setting a plugin accepts; shown in the GUI and validated by the host before `create(ctx)`. */
export interface SettingSpec {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'path' | 'secret';
  default?: unknown;
  description?: string;
  /** For `enum`. */
  values?: unknown[];
  min?: number;
  max?: number;
}

/** A downloadable model file a plugin can use, fed to the model manager. */
export interface ModelFileSpec {
  /** Path inside the model's folder, e.g. "onnx/encoder_model_quantized.onnx". */
  path: string;
  url: string;
  sha256?: string;
  size?: number;
}

export interface ModelSpec {
  /** Globally unique, e.g. "whisper-tiny.en". */
  id: string;
  description?: string;
  license?: string;
  /** Total bytes, for the disk-space check and the GUI. */
  size?: number;
  files: ModelFileSpec[];
  /** The catalogue default for this plugin. */
  default?: boolean;
}

export type PluginSource = 'builtin' | 'user';

/** A plugin folder that could not be used: which folder, and what is wrong with it. */
export interface PluginProblem {
  dir: string;
  source: PluginSource;
  message: string;
}

export interface PluginInfo {
  name: string;
  kind: PluginKind;
  version: string;
  description: string;
  dir: string;
  source: PluginSource;
  active: boolean;
  /** `loaded`: imported fine, not running; `ready`: instance running; `starting`; `failed`: create() failed. */
  status: 'loaded' | 'starting' | 'ready' | 'failed' | 'broken';
  error: string | null;
  settings: Record<string, SettingSpec>;
  values: Record<string, unknown>;
  models: ModelSpec[];
  /** A tool plugin's tools, once its instance has started (and whether each is offered to calls). */
  tools?: (ToolSpec & { offered: boolean })[];
}

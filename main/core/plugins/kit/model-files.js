// Finding a plugin's model files, and saying so clearly when they are not there.
import { statSync } from 'node:fs';
import { pluginError } from './plugin-errors.js';

/** The file's stats, or null when there is nothing at `path` (or it cannot be read). */
export function statOrNull(path) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** MODEL_MISSING for a catalogue model, in the words the contract asks for: the pull command and the file looked for. */
export function modelMissing(modelId, file) {
  return pluginError('MODEL_MISSING', `model missing — run \`npm run models -- pull ${modelId}\` (looked for ${file})`, { details: { model: modelId, file } });
}

/**
 * GET / PUT /settings: the GUI's Settings over the control API, by the same rules (main/core/settings.ts) —
 * the same fields, the same validation and error codes, and secrets write-only: they are never returned, and
 * saving one works only where the host can keep it safely (the desktop app's keychain), else the answer says
 * to use .env / the environment. docs/api.md documents both routes.
 */
import { RequestInvalid, validateRequest, type SettingsView } from '../../shared/contract.ts';
import { ParleyError, errorMessage, isParleyError } from '../errors.ts';
import { environmentOnlySecrets, saveSettings, settingsView, type SecretStore, type SettingsTarget } from '../settings.ts';
import { sendJson, type Route } from './router.ts';
import type { CallPersonas } from '../personas-for-calls.ts';

/** `GET /settings/personas` and `PUT /settings/personas` with `{ personas: [...] }` (docs/api.md). */
function personaRoutes(personas: () => Pick<CallPersonas, 'list' | 'save'>): Route[] {
  return [
    { method: 'GET', path: '/settings/personas', access: 'control', handler: () => ({ personas: personas().list() }) },
    {
      method: 'PUT',
      path: '/settings/personas',
      access: 'control',
      handler: ({ body }) => {
        let list: unknown;
        try {
          list = validateRequest('personas.save', body).personas;
        } catch (err) {
          if (err instanceof RequestInvalid) throw new ParleyError('BAD_REQUEST', err.message.replace(/^personas\.save: /, ''));
          throw err;
        }
        return { personas: personas().save(list) };
      },
    },
  ];
}

/** The view without the control token: whoever asks holds it already, and it is a secret like the others. */
export type HttpSettingsView = Omit<SettingsView, 'controlToken'>;

function withoutToken(view: SettingsView): HttpSettingsView {
  const { controlToken: _token, ...rest } = view;
  return rest;
}

export type { SecretStore } from '../settings.ts';

/**
 * `core` is read at request time (the routes are registered while the core is being put together). Without a
 * `secrets` store (headless), secrets can't be saved: the answer says to use .env / the environment.
 */
export function settingsRoutes(core: () => SettingsTarget, secrets: SecretStore = environmentOnlySecrets, personas?: () => Pick<CallPersonas, 'list' | 'save'>): Route[] {
  return [
    { method: 'GET', path: '/settings', access: 'control', handler: () => withoutToken(settingsView(core(), secrets)) },
    // Personas (main/core/personas.ts): the whole list, the default first; a PUT replaces it, or fails with nothing changed.
    ...(personas ? personaRoutes(personas) : []),
    {
      method: 'PUT',
      path: '/settings',
      access: 'control',
      handler: async ({ body, res }) => {
        let patch;
        try {
          patch = validateRequest('settings.save', body);
        } catch (err) {
          if (err instanceof RequestInvalid) throw new ParleyError('BAD_REQUEST', err.message.replace(/^settings\.save: /, ''));
          throw err;
        }
        try {
          return withoutToken(await saveSettings(core(), secrets, patch));
        } catch (err) {
          // Field by field, as the GUI gets them: { error: { code: 'CONFIG_INVALID', message, fields } }.
          const fields = isParleyError(err, 'CONFIG_INVALID') ? err.details?.fields : undefined;
          if (!fields || typeof fields !== 'object') throw err;
          sendJson(res, 400, { error: { code: 'CONFIG_INVALID', message: errorMessage(err), fields } });
          return undefined;
        }
      },
    },
  ];
}

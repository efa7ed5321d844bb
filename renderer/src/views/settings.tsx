/**
 * Settings: Twilio, public access, the agent's behaviour, its voice, and records. Everything is checked by the
 * core; its errors appear next to the field concerned. Secrets are write-only: once saved the GUI only knows
 * whether one is set (and where from), never its value.
 */
import { useEffect, useState } from 'preact/hooks';
import type { GuiSettingKey, PluginInfo, SecretKey, SettingsPatch, SettingsView as View } from '../../../main/shared/contract.ts';
import { toast, versions } from '../app-state.ts';
import { call, IpcFailure, messageOf } from '../bridge.ts';
import { ActionButton, ErrorBox, Field } from '../components/ui.tsx';
import { useStore } from '../store.ts';

type Draft = Record<GuiSettingKey, string | number | boolean>;

const ENV_NOTE = 'Set by an environment variable: your change applies now, the variable wins at the next start.';

export function SettingsView() {
  const v = useStore(versions);
  const [view, setView] = useState<View | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [voice, setVoice] = useState<Record<string, unknown>>({});
  const [secrets, setSecrets] = useState<Partial<Record<SecretKey, string>>>({});
  const [ttsPlugins, setTtsPlugins] = useState<PluginInfo[]>([]);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const load = (s: View) => {
    setView(s);
    setDraft({ ...s.values });
    setVoice({ ...s.voice.values });
  };
  useEffect(() => {
    call('settings.get').then(load, (err) => setError(messageOf(err)));
    call('plugins.list').then((r) => setTtsPlugins(r.plugins.filter((p) => p.kind === 'tts')), () => {});
  }, [v.config, v.plugins]);

  if (!view || !draft) return <section aria-busy="true">{error ? <ErrorBox error={error} /> : <p class="muted">Loading settings…</p>}</section>;

  const set = (key: GuiSettingKey, value: string | number | boolean) => setDraft({ ...draft, [key]: value });
  const envHint = (key: GuiSettingKey, hint?: string) => (view.fromEnvironment.includes(key) ? `${hint ? hint + ' ' : ''}${ENV_NOTE}` : hint);

  const text = (key: GuiSettingKey, label: string, hint?: string, attrs: Record<string, unknown> = {}) => (
    <Field label={label} hint={envHint(key, hint)} error={fields[key]}>
      {({ id, describedBy, invalid }) => (
        <input id={id} name={key} type="text" value={String(draft[key] ?? '')} aria-describedby={describedBy} aria-invalid={invalid} onInput={(e) => set(key, (e.target as HTMLInputElement).value)} {...attrs} />
      )}
    </Field>
  );
  const number = (key: GuiSettingKey, label: string, hint: string, unit: string) => (
    <Field label={`${label} (${unit})`} hint={envHint(key, hint)} error={fields[key]}>
      {({ id, describedBy, invalid }) => (
        <input id={id} name={key} type="number" inputMode="numeric" value={String(draft[key] ?? '')} aria-describedby={describedBy} aria-invalid={invalid} onInput={(e) => set(key, (e.target as HTMLInputElement).value)} />
      )}
    </Field>
  );
  const secret = (key: SecretKey, label: string) => {
    const st = view.secrets[key];
    const status = st.set ? (st.source === 'keychain' ? 'Saved in the OS keychain.' : 'Set from the environment / .env.') : 'Not set.';
    return (
      <Field label={label} hint={`${status} ${view.secretStorage.detail}`} error={fields[key]}>
        {({ id, describedBy, invalid }) => (
          <div class="secret-row">
            <input
              id={id}
              name={key}
              type="password"
              autoComplete="off"
              placeholder={st.set ? '•••••••• (type to replace)' : ''}
              value={secrets[key] ?? ''}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => setSecrets({ ...secrets, [key]: (e.target as HTMLInputElement).value })}
            />
            <span class={`secret-state ${st.set ? 'set' : 'unset'}`}>{st.set ? 'set' : 'not set'}</span>
            {st.source === 'keychain' ? (
              <ActionButton label={`Remove the saved ${label}`} onAction={() => save({ clearSecrets: [key] })}>
                Remove
              </ActionButton>
            ) : null}
          </div>
        )}
      </Field>
    );
  };

  async function save(extra: SettingsPatch = {}) {
    setSaving(true);
    setError(null);
    setFields({});
    const values: SettingsPatch['values'] = {};
    for (const k of Object.keys(draft!) as GuiSettingKey[]) if (draft![k] !== view!.values[k]) values[k] = draft![k];
    const pluginVoice: Record<string, unknown> = {};
    if (view!.voice.plugin && draft!.tts === view!.voice.plugin) for (const [k, val] of Object.entries(voice)) if (val !== view!.voice.values[k]) pluginVoice[k] = val;
    const secretValues = Object.fromEntries(Object.entries(secrets).filter(([, s]) => s)) as SettingsPatch['secrets'];
    const patch: SettingsPatch = {
      values,
      ...(secretValues && Object.keys(secretValues).length ? { secrets: secretValues } : {}),
      ...(Object.keys(pluginVoice).length ? { pluginValues: { [view!.voice.plugin!]: pluginVoice } } : {}),
      ...extra,
    };
    try {
      load(await call('settings.save', patch));
      setSecrets({});
      toast(extra.clearSecrets ? 'Secret removed.' : 'Settings saved.');
    } catch (err) {
      if (err instanceof IpcFailure && err.details && typeof err.details.fields === 'object') setFields(err.details.fields as Record<string, string>);
      setError(messageOf(err));
      // Take the person (and a screen reader) to the first field that needs fixing.
      requestAnimationFrame(() => document.querySelector<HTMLElement>('.settings [aria-invalid="true"]')?.focus());
    } finally {
      setSaving(false);
    }
  }

  const vp = view.voice.plugin;
  return (
    <section aria-labelledby="settings-h" class="settings">
      <h2 id="settings-h">Settings</h2>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <ErrorBox error={error} />
        <fieldset>
          <legend>Twilio</legend>
          {text('twilioAccountSid', 'Account SID', 'From the Twilio console: starts with AC.', { autoComplete: 'off', spellcheck: false })}
          {secret('twilioAuthToken', 'Auth token')}
          {text('twilioPhoneNumber', 'Your Twilio phone number', 'E.164, e.g. +15551234567: the caller ID of outgoing calls.', { type: 'tel' })}
        </fieldset>
        <fieldset>
          <legend>Reaching this computer</legend>
          {secret('ngrokAuthtoken', 'ngrok authtoken')}
          {text('publicUrl', 'Public URL', 'Leave empty to use the ngrok tunnel. Otherwise the https address Twilio reaches this computer at.', { type: 'url', spellcheck: false })}
        </fieldset>
        <fieldset>
          <legend>The agent</legend>
          <p class="muted small persona-note">
            Calls get their persona's greeting, system prompt, voice and tools (the Personas view). Until personas are saved there, the one
            "Default" persona is these settings.
          </p>
          {text('greeting', 'Greeting', 'Said when a call connects. Empty: the agent waits for the caller.')}
          <Field label="System prompt" hint={envHint('systemPrompt', 'How the agent behaves. Keep answers short: this is a phone call.')} error={fields.systemPrompt}>
            {({ id, describedBy, invalid }) => (
              <textarea id={id} name="systemPrompt" rows={5} value={String(draft.systemPrompt)} aria-describedby={describedBy} aria-invalid={invalid} onInput={(e) => set('systemPrompt', (e.target as HTMLTextAreaElement).value)} />
            )}
          </Field>
          <div class="row2">
            {number('silenceMs', 'End-of-turn silence', 'How long the caller must pause before the agent answers. Lower is snappier, but cuts slow talkers off.', 'ms')}
            {number('bargeInMinMs', 'Barge-in sensitivity', 'How long the caller must talk over the agent to interrupt it. Lower interrupts sooner; higher ignores coughs and "mm-hm".', 'ms')}
          </div>
        </fieldset>
        <fieldset>
          <legend>Voice</legend>
          <Field label="Text-to-speech plugin" error={fields.tts}>
            {({ id, describedBy, invalid }) => (
              <select id={id} name="tts" value={String(draft.tts)} aria-describedby={describedBy} aria-invalid={invalid} onChange={(e) => set('tts', (e.target as HTMLSelectElement).value)}>
                {ttsPlugins.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {vp && draft.tts !== vp ? <p class="note">Save to see the voice settings of {String(draft.tts)}.</p> : null}
          {vp && draft.tts === vp && Object.keys(view.voice.settings).length === 0 ? <p class="muted small">{vp} has no voice or speed settings.</p> : null}
          {vp && draft.tts === vp ? (
            <div class="row3">
              {'model' in view.voice.settings ? (
                <Field label="Voice" hint="A voice from the Models view, or the plugin's default." error={fields[`${vp}.model`]}>
                  {({ id, describedBy, invalid }) => (
                    <select id={id} name="voice" value={String(voice.model ?? '')} aria-describedby={describedBy} aria-invalid={invalid} onChange={(e) => setVoice({ ...voice, model: (e.target as HTMLSelectElement).value })}>
                      <option value="">Default</option>
                      {view.voice.models.map((m) => (
                        <option key={m.id} value={m.id}>
                          {m.id}
                        </option>
                      ))}
                      {voice.model && !view.voice.models.some((m) => m.id === voice.model) ? <option value={String(voice.model)}>{String(voice.model)}</option> : null}
                    </select>
                  )}
                </Field>
              ) : null}
              {'speaker' in view.voice.settings ? (
                <Field label="Speaker" hint={view.voice.settings.speaker?.description} error={fields[`${vp}.speaker`]}>
                  {({ id, describedBy, invalid }) => (
                    <input id={id} name="speaker" type="text" value={String(voice.speaker ?? '')} aria-describedby={describedBy} aria-invalid={invalid} onInput={(e) => setVoice({ ...voice, speaker: (e.target as HTMLInputElement).value })} />
                  )}
                </Field>
              ) : null}
              {'speed' in view.voice.settings ? (
                <Field label="Speed" hint="1 is the voice's own pace; 1.2 is 20% faster." error={fields[`${vp}.speed`]}>
                  {({ id, describedBy, invalid }) => (
                    <input id={id} name="speed" type="number" step="0.05" value={String(voice.speed ?? '')} aria-describedby={describedBy} aria-invalid={invalid} onInput={(e) => setVoice({ ...voice, speed: (e.target as HTMLInputElement).value })} />
                  )}
                </Field>
              ) : null}
            </div>
          ) : null}
        </fieldset>
        <fieldset>
          <legend>Call records</legend>
          <div class="field check">
            <input id="recordCalls" name="recordCalls" type="checkbox" checked={draft.recordCalls === true} aria-describedby="consent-note" onChange={(e) => set('recordCalls', (e.target as HTMLInputElement).checked)} />
            <label for="recordCalls">Record calls (both sides, to a WAV file per call)</label>
          </div>
          <p class="note" id="consent-note">
            Recording phone calls is regulated. Many places require the consent of everyone on the call; data-protection law (GDPR in the EU and UK)
            requires a lawful basis and telling callers. If you record, say so in the greeting, keep recordings only as long as you need them, and check
            the rules where you and your callers are. This is not legal advice.
          </p>
          {number('retentionDays', 'Delete call records after', '0 keeps everything. Older calls and their recordings are deleted automatically.', 'days')}
        </fieldset>
        <fieldset>
          <legend>Control API</legend>
          <Field label="Control token" hint="Scripts and tools send it as “Authorization: Bearer <token>” to the local control API.">
            {({ id, describedBy }) => (
              <div class="secret-row">
                <input id={id} type="text" readOnly value={view.controlToken || 'none configured'} aria-describedby={describedBy} class="mono" />
                {view.controlToken ? (
                  <ActionButton onAction={async () => (await navigator.clipboard.writeText(view.controlToken), toast('Control token copied.'))}>Copy</ActionButton>
                ) : null}
              </div>
            )}
          </Field>
        </fieldset>
        <div class="form-actions">
          <button type="submit" class="btn primary" disabled={saving} aria-busy={saving}>
            {saving ? 'Saving…' : 'Save settings'}
          </button>
          <button type="button" class="btn plain" onClick={() => (load(view), setSecrets({}), setFields({}), setError(null))}>
            Undo changes
          </button>
        </div>
      </form>
    </section>
  );
}

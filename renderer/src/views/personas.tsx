/**
 * Personas: who answers. The list (the first one is the default: it takes every call no other persona's number
 * claims, and every dial that names none), and an editor for every field of the selected one. Duplicate and
 * Delete change the list here; Save sends the whole list, which the core checks whole — its error (naming the
 * persona and field) is shown as it says it, and nothing is saved until all of it is valid.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Persona } from '../../../main/shared/contract.ts';
import { toast, versions } from '../app-state.ts';
import { call, IpcFailure, messageOf } from '../bridge.ts';
import { ErrorBox, Field } from '../components/ui.tsx';
import { useStore } from '../store.ts';

/** A persona as the form edits it: numbers as one comma-separated text, voice settings as JSON text. */
interface Draft {
  name: string;
  numbers: string;
  greeting: string;
  systemPrompt: string;
  voicePlugin: string;
  voiceSettings: string;
  language: string;
  tools: string;
  transferNumber: string;
  voicemailMessage: string;
  ownerNumber: string;
  smsToAnyNumber: '' | 'yes' | 'no';
}

const toDraft = (p: Persona): Draft => ({
  name: p.name,
  numbers: p.numbers.join(', '),
  greeting: p.greeting,
  systemPrompt: p.systemPrompt,
  voicePlugin: p.voice.plugin,
  voiceSettings: Object.keys(p.voice.settings).length ? JSON.stringify(p.voice.settings) : '',
  language: p.language,
  tools: p.tools,
  transferNumber: p.transferNumber,
  voicemailMessage: p.voicemailMessage,
  ownerNumber: p.ownerNumber,
  smsToAnyNumber: p.smsToAnyNumber === null ? '' : p.smsToAnyNumber ? 'yes' : 'no',
});

/** Back to the shape the core checks; a problem the form can see by itself is thrown as text. */
function fromDraft(d: Draft): Persona {
  let settings: Record<string, unknown> = {};
  if (d.voiceSettings.trim()) {
    try {
      settings = JSON.parse(d.voiceSettings) as Record<string, unknown>;
    } catch {
      throw new Error(`persona "${d.name}": the voice settings are not JSON. Write them like {"speed": 1.1}, or leave them empty.`);
    }
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) throw new Error(`persona "${d.name}": the voice settings must be an object like {"speed": 1.1}.`);
  }
  return {
    name: d.name,
    numbers: d.numbers.split(',').map((n) => n.trim()).filter(Boolean),
    greeting: d.greeting,
    systemPrompt: d.systemPrompt,
    voice: { plugin: d.voicePlugin, settings },
    language: d.language,
    tools: d.tools,
    transferNumber: d.transferNumber,
    voicemailMessage: d.voicemailMessage,
    ownerNumber: d.ownerNumber,
    smsToAnyNumber: d.smsToAnyNumber === '' ? null : d.smsToAnyNumber === 'yes',
  };
}

/** The fields shown with `input()`: an error the core names one of them for is shown at it. */
const FIELDS = ['name', 'language', 'numbers', 'greeting', 'voiceSettings', 'tools', 'transferNumber', 'ownerNumber', 'voicemailMessage'];

/** "Sales" → "Sales copy", then "Sales copy 2"…: names must differ. */
function copyName(name: string, taken: string[]): string {
  const lower = taken.map((n) => n.toLowerCase());
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? `${name} copy` : `${name} copy ${i}`;
    if (!lower.includes(candidate.toLowerCase())) return candidate;
  }
}

export function PersonasView() {
  const [drafts, setDrafts] = useState<Draft[] | null>(null);
  const [selected, setSelected] = useState(0);
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [field, setField] = useState<string | null>(null);
  const [voices, setVoices] = useState<string[]>([]);
  const v = useStore(versions);

  const load = () =>
    call('personas.list').then(
      (r) => (setDrafts(r.personas.map(toDraft)), setDirty(false), setSelected((i) => Math.min(i, r.personas.length - 1))),
      (err) => setError(messageOf(err)),
    );
  useEffect(() => void load(), [v.config]);
  useEffect(() => {
    call('plugins.list').then((r) => setVoices(r.plugins.filter((p) => p.kind === 'tts').map((p) => p.name)), () => {});
  }, [v.plugins]);

  if (!drafts) return <section aria-busy="true">{error ? <ErrorBox error={error} /> : <p class="muted">Loading personas…</p>}</section>;
  const d = drafts[selected] ?? drafts[0]!;

  const change = (next: Draft[], index = selected) => {
    setDrafts(next);
    setSelected(index);
    setDirty(true);
    setError(null);
    setField(null);
  };
  const set = (key: keyof Draft, value: string) => change(drafts.map((x, i) => (i === selected ? { ...x, [key]: value } : x)));

  const save = async () => {
    setError(null);
    setField(null);
    let list: Persona[];
    try {
      list = drafts.map(fromDraft);
    } catch (err) {
      setError((err as Error).message);
      setField('voiceSettings');
      requestAnimationFrame(() => document.querySelector<HTMLElement>('.persona-form [aria-invalid="true"]')?.focus());
      return;
    }
    setSaving(true);
    try {
      const r = await call('personas.save', { personas: list });
      setDrafts(r.personas.map(toDraft));
      setDirty(false);
      toast('Personas saved. New calls use them.');
    } catch (err) {
      setError(messageOf(err));
      const f = err instanceof IpcFailure ? err.details?.field : undefined;
      setField(typeof f === 'string' ? f : null);
      // The core names the persona at fault: show that one.
      const named = /persona "([^"]+)"/.exec(messageOf(err))?.[1];
      const at = named === undefined ? -1 : drafts.findIndex((x) => x.name.trim() === named);
      if (at >= 0) setSelected(at);
      requestAnimationFrame(() => document.querySelector<HTMLElement>('.persona-form [aria-invalid="true"]')?.focus());
    } finally {
      setSaving(false);
    }
  };

  const input = (key: keyof Draft, label: string, hint: string, extra: { tel?: boolean; code?: boolean } = {}) => (
    <Field label={label} hint={hint} error={field === key && error ? error : undefined}>
      {({ id, describedBy, invalid }) => (
        <input
          id={id}
          name={key}
          type="text"
          inputMode={extra.tel ? 'tel' : undefined}
          spellcheck={!extra.code}
          class={extra.code ? 'mono' : undefined}
          value={d[key]}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          onInput={(e) => set(key, (e.target as HTMLInputElement).value)}
        />
      )}
    </Field>
  );

  return (
    <div class="split personas">
      <section class="list-pane" aria-labelledby="personas-h">
        <h2 id="personas-h">Personas</h2>
        <p class="muted small">Inbound calls get the persona whose number was called; the first one takes every other call and every dial that names none.</p>
        <ul class="persona-list">
          {drafts.map((p, i) => (
            <li key={i}>
              <button type="button" class={`persona-item${i === selected ? ' selected' : ''}`} aria-current={i === selected ? 'true' : undefined} onClick={() => setSelected(i)}>
                <span class="persona-name">{p.name || '(no name)'}</span>
                {i === 0 ? <span class="tag active">default</span> : null}
                <span class="muted small persona-numbers">{p.numbers || (i === 0 ? 'every other number' : 'no number')}</span>
              </button>
            </li>
          ))}
        </ul>
        <div class="toolbar">
          <button type="button" class="btn plain" onClick={() => change([...drafts.slice(0, selected + 1), { ...d, name: copyName(d.name, drafts.map((x) => x.name)), numbers: '' }, ...drafts.slice(selected + 1)], selected + 1)}>
            Duplicate
          </button>
          <button
            type="button"
            class="btn plain"
            disabled={drafts.length <= 1}
            title={drafts.length <= 1 ? 'Keep at least one persona: it answers every call.' : undefined}
            onClick={() => change(drafts.filter((_, i) => i !== selected), Math.max(0, selected - 1))}
          >
            Delete
          </button>
        </div>
      </section>
      <section class="detail-pane" aria-label="Persona">
        <form
          class="persona-form"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <fieldset>
            <legend>Who</legend>
            <div class="row2">
              {input('name', 'Name', 'Dials name the persona by this (any case).')}
              {input('language', 'Language', "A tag such as en or de; empty: the app's.")}
            </div>
            {input('numbers', 'Numbers it answers', 'Your Twilio numbers, comma-separated, in E.164 (+15551234567). Calls to them get this persona.', { tel: true })}
            {input('greeting', 'Greeting', 'Said when a call connects. Empty: the agent waits for the caller.')}
            <Field label="System prompt" hint="How the agent behaves on this persona's calls.">
              {({ id, describedBy }) => <textarea id={id} name="systemPrompt" rows={4} value={d.systemPrompt} aria-describedby={describedBy} onInput={(e) => set('systemPrompt', (e.target as HTMLTextAreaElement).value)} />}
            </Field>
          </fieldset>
          <fieldset>
            <legend>Voice and tools</legend>
            <div class="row2">
              <Field label="Voice plugin" hint="A text-to-speech plugin; the app's voice if it is not installed.">
                {({ id, describedBy }) => (
                  <select id={id} name="voicePlugin" value={d.voicePlugin} aria-describedby={describedBy} onChange={(e) => set('voicePlugin', (e.target as HTMLSelectElement).value)}>
                    <option value="">The app's voice</option>
                    {[...new Set([...voices, ...(d.voicePlugin ? [d.voicePlugin] : [])])].map((name) => (
                      <option key={name} value={name}>
                        {name}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              {input('voiceSettings', 'Voice settings', 'JSON over the plugin\'s settings, e.g. {"speed": 1.1}.', { code: true })}
            </div>
            {input('tools', 'Tools', 'Tool names, comma-separated; empty: all; none: no tools.', { code: true })}
          </fieldset>
          <fieldset>
            <legend>Numbers and messages</legend>
            <div class="row2">
              {input('transferNumber', 'Transfer number', "Where transfer_call puts callers through (E.164); empty: the app's.", { tel: true })}
              {input('ownerNumber', "Owner's number for messages", 'Messages taken on calls are texted here (E.164); empty: none are.', { tel: true })}
            </div>
            {input('voicemailMessage', 'Voicemail message', "Left on an answering machine on this persona's outbound calls; empty: the app's.")}
            <Field label="Texts to other numbers" hint="May send_sms text numbers other than the caller's?">
              {({ id, describedBy }) => (
                <select id={id} name="smsToAnyNumber" value={d.smsToAnyNumber} aria-describedby={describedBy} onChange={(e) => set('smsToAnyNumber', (e.target as HTMLSelectElement).value)}>
                  <option value="">As the app's setting</option>
                  <option value="yes">Yes, any number</option>
                  <option value="no">No, the caller only</option>
                </select>
              )}
            </Field>
          </fieldset>
          {/* An error about one field is shown at that field; any other here. */}
          <ErrorBox error={field && FIELDS.includes(field) ? null : error} title="Not saved:" />
          <div class="form-actions">
            <button type="submit" class="btn primary" disabled={saving} aria-busy={saving}>
              {saving ? 'Saving…' : 'Save personas'}
            </button>
            <button type="button" class="btn plain" disabled={!dirty} onClick={() => (setError(null), setField(null), void load())}>
              Undo changes
            </button>
            {dirty ? <span class="muted small unsaved">Unsaved changes</span> : null}
          </div>
        </form>
      </section>
    </div>
  );
}

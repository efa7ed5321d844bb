/**
 * The main window, locked down per Electron's security checklist: context isolation, sandbox, no Node in the
 * page, a preload with a narrow API, no new windows, no navigation away from parley://app, no webviews, and
 * every permission request (camera, notifications…) refused but the app page's own microphone (Test call).
 */
import type { BrowserWindow as BrowserWindowType, BrowserWindowConstructorOptions, Session, Shell, WebContents } from 'electron';
import { APP_URL, isAppUrl } from './protocol.ts';

export function windowOptions(preload: string): BrowserWindowConstructorOptions {
  return {
    width: 1200,
    height: 820,
    minWidth: 760,
    minHeight: 520,
    show: false,
    title: 'Parley',
    backgroundColor: '#f6f7f9',
    autoHideMenuBar: true,
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  };
}

/** Only https links leave the app, and only to the system browser (e.g. a docs link). */
export function isExternalLink(url: string): boolean {
  try {
    return new URL(url).protocol === 'https:';
  } catch {
    return false;
  }
}

/** Deny new windows and navigation on any web contents (applied to every one the app creates). */
export function lockDownContents(contents: WebContents, shell: Pick<Shell, 'openExternal'>): void {
  contents.setWindowOpenHandler(({ url }) => {
    if (isExternalLink(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  const stay = (event: { preventDefault(): void }, url: string) => {
    if (!isAppUrl(url)) event.preventDefault();
  };
  contents.on('will-navigate', stay);
  contents.on('will-redirect', stay);
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

/** What Electron tells a permission request handler about a `media` request (a subset of its details). */
export interface MediaRequestDetails {
  requestingUrl?: string;
  isMainFrame?: boolean;
  mediaTypes?: string[];
}

/**
 * The one permission the app grants: the microphone (getUserMedia with audio only: no camera, no screen), asked
 * by the app's own page (parley://app, its main frame) for the Test call. Everything else is refused.
 */
export function isOwnMicrophoneRequest(permission: string, details: MediaRequestDetails | undefined, pageUrl: string | undefined): boolean {
  if (permission !== 'media' || !details) return false;
  const types = details.mediaTypes ?? [];
  if (types.length === 0 || !types.every((t) => t === 'audio')) return false;
  if (details.isMainFrame === false) return false;
  return isAppUrl(details.requestingUrl ?? '') && isAppUrl(pageUrl ?? '');
}

/** The synchronous check (e.g. before enumerating devices): the app's own origin, audio only. */
export function isOwnMicrophoneCheck(permission: string, requestingOrigin: string | undefined, details: { mediaType?: string; isMainFrame?: boolean } | undefined): boolean {
  if (permission !== 'media' || !details || details.mediaType !== 'audio' || details.isMainFrame === false) return false;
  return isAppUrl(requestingOrigin ?? '');
}

/** Refuse every permission (camera, notifications, geolocation…) except the app page's own microphone. */
export function denyPermissions(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>): void {
  session.setPermissionRequestHandler((wc, permission, callback, details) => {
    let pageUrl: string | undefined;
    try {
      pageUrl = wc?.getURL();
    } catch {
      pageUrl = undefined;
    }
    callback(isOwnMicrophoneRequest(permission, details as MediaRequestDetails | undefined, pageUrl));
  });
  session.setPermissionCheckHandler((_wc, permission, requestingOrigin, details) => isOwnMicrophoneCheck(permission, requestingOrigin, details as { mediaType?: string; isMainFrame?: boolean } | undefined));
}

export function createMainWindow(BrowserWindow: typeof BrowserWindowType, shell: Pick<Shell, 'openExternal'>, preload: string): BrowserWindowType {
  const win = new BrowserWindow(windowOptions(preload));
  lockDownContents(win.webContents, shell);
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_URL);
  return win;
}

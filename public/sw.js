// Service worker: keeps the app shell (HTML, scripts, onnxruntime's .wasm, icons, CLIP merges) in the
// Cache Storage so the page opens and generates offline. The list of files comes from
// precache-manifest.json, written by the build. Model files are not handled here: the worker keeps
// them in IndexedDB.
const PREFIX = 'sd-web-shell-';
const MANIFEST = 'precache-manifest.json';

/** URL of a precached file, relative to the service worker's folder (the site root). */
function shellUrl(path) {
  return new URL(path, self.registration.scope).href;
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const response = await fetch(shellUrl(MANIFEST), { cache: 'no-store' });
      if (!response.ok) throw new Error(`${MANIFEST}: ${response.status}`);
      const { version, files } = await response.json();
      const cache = await caches.open(PREFIX + version);
      await cache.addAll(files.map(shellUrl));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const current = await currentCacheName();
      // without knowing the current version (offline), keep every cache rather than guess
      if (current !== undefined) {
        for (const name of await caches.keys()) {
          if (name.startsWith(PREFIX) && name !== current) await caches.delete(name);
        }
      }
      await self.clients.claim();
    })(),
  );
});

/** The newest shell cache (the one the last install filled). */
async function currentCacheName() {
  const response = await fetch(shellUrl(MANIFEST), { cache: 'no-store' }).catch(() => undefined);
  if (response && response.ok) return PREFIX + (await response.json()).version;
  return undefined;
}

/** Pages: network first, so a new deployment shows at once; the cached page when offline. */
async function navigate(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cached = (await caches.match(request, { ignoreSearch: true })) ?? (await caches.match(shellUrl('./')));
    if (cached) return cached;
    throw error;
  }
}

/** Shell files: from the cache (their names carry content hashes), else the network. */
async function shellFile(request) {
  const cached = await caches.match(request);
  return cached ?? fetch(request);
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (!url.href.startsWith(self.registration.scope)) return;
  if (request.mode === 'navigate') {
    event.respondWith(navigate(request));
    return;
  }
  event.respondWith(shellFile(request));
});

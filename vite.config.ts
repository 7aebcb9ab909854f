import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { svelte, vitePreprocess } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin, type ResolvedConfig } from 'vite';

/** Written next to index.html; the service worker reads it on install to cache the app shell. */
const PRECACHE_MANIFEST = 'precache-manifest.json';
/** The service worker itself (public/) is never precached: the browser updates it on its own. */
const NOT_PRECACHED = new Set(['sw.js', PRECACHE_MANIFEST]);

function listFiles(dir: string, root = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, root) : [relative(root, full).split('\\').join('/')];
  });
}

/**
 * Emits the list of every file of the build (bundles, the onnxruntime .wasm, public/ files) with a
 * version hash, so the service worker can make the whole app shell available offline.
 */
function precacheManifest(): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'sd-web:precache-manifest',
    apply: 'build',
    configResolved(resolved) {
      config = resolved;
    },
    generateBundle(_options, bundle) {
      const publicFiles = config.publicDir ? listFiles(config.publicDir) : [];
      const files = [...new Set([...Object.keys(bundle), ...publicFiles])]
        .filter((f) => !NOT_PRECACHED.has(f) && !f.endsWith('.map'))
        .sort();
      const version = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16);
      this.emitFile({
        type: 'asset',
        fileName: PRECACHE_MANIFEST,
        source: JSON.stringify({ version, files: ['./', ...files] }, null, 1),
      });
    },
  };
}

export default defineConfig({
  // relative asset URLs: the build works from any sub-path of any static host
  base: './',
  plugins: [svelte({ preprocess: vitePreprocess() }), precacheManifest()],
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    // onnxruntime-web's bundle is large by nature
    chunkSizeWarningLimit: 1024,
  },
  // onnxruntime-web finds its .wasm and thread workers next to its own module; pre-bundling moves it
  optimizeDeps: { exclude: ['onnxruntime-web'] },
});

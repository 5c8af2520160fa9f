import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

const GZIP_EXTENSIONS = ['.js', '.css', '.html', '.svg']
const GZIP_MIN_BYTES = 256

function* filesUnder(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* filesUnder(path)
    else if (entry.isFile()) yield path
  }
}

// Ships dist/<file>.gz beside each text file larger than GZIP_MIN_BYTES (nginx's
// gzip_static serves them as they are): no compression plugin needed.
function gzipDist() {
  let outDir = 'dist'
  return {
    name: 'notes-gzip-dist',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir
    },
    closeBundle() {
      for (const file of filesUnder(outDir)) {
        if (!GZIP_EXTENSIONS.some((ext) => file.endsWith(ext))) continue
        if (statSync(file).size <= GZIP_MIN_BYTES) continue
        writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }))
      }
    },
  }
}

export default defineConfig({
  plugins: [vue(), gzipDist()],
  server: {
    // The dev server forwards the API to the FastAPI dev server, like nginx does.
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Keep everything in files under dist/assets/: no inline data: URLs (strict CSP).
    assetsInlineLimit: 0,
  },
})

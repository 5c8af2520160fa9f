import { fileURLToPath, URL } from 'node:url'

import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

export default defineConfig({
  plugins: [vue()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: {
    // Only used when VITE_API_BASE_URL is relative (e.g. `/api` in .env.development.local):
    // then the dev server forwards /api to the FastAPI dev server, like nginx does.
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Keep everything in files under dist/assets/: no inline data: URLs (strict CSP).
    assetsInlineLimit: 0,
  },
})

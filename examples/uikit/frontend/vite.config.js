import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

export default defineConfig({
  plugins: [vue()],
  // vue-i18n's compile-time flags (its esm-bundler build asks for them): the Composition API
  // only, no devtools hook in production. Its message compiler stays in the bundle: since
  // vue-i18n 10 it compiles messages to an AST that is interpreted (JIT), never to code run
  // with new Function(), so the site needs no 'unsafe-eval' (script-src 'self').
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __INTLIFY_DROP_MESSAGE_COMPILER__: false,
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    rollupOptions: {
      output: {
        // The UI library and the framework in chunks of their own (each cached across
        // builds of the app's code, and each below Vite's 500 kB warning).
        manualChunks: {
          'naive-ui': ['naive-ui'],
          vue: ['vue', 'vue-router', 'vue-i18n'],
        },
      },
    },
  },
})

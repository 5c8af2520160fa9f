import { createI18n } from 'vue-i18n'

import en from './locales/en.js'
import fr from './locales/fr.js'

// Messages as plain objects, compiled in the browser by vue-i18n's JIT compiler (an AST,
// interpreted: no eval), which the gateway's script-src 'self' allows.
export const i18n = createI18n({
  legacy: false,
  locale: 'en',
  fallbackLocale: 'en',
  messages: { en, fr },
})

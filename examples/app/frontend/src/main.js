import { createPinia } from 'pinia'
import { createApp } from 'vue'

import { installInterceptors } from './api/client.js'
import App from './App.vue'
import router from './router/index.js'
import './style.css'

const app = createApp(App)
app.use(createPinia())
app.use(router)
installInterceptors(router)
app.mount('#app')

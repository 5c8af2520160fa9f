import { createRouter, createWebHistory } from 'vue-router'

import HomeView from '../views/HomeView.vue'

// History mode: real paths such as /dashboard, so the web server must answer
// unknown paths with index.html (nginx: try_files $uri $uri/ /index.html).
export default createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes: [
    { path: '/', name: 'home', component: HomeView },
    // Loaded on first visit, as its own hashed chunk: a tab opened before a deploy asks for
    // the chunk of its own build (the collection keeps earlier builds' assets served).
    { path: '/dashboard', name: 'dashboard', component: () => import('../views/DashboardView.vue') },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

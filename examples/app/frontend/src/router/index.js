import { createRouter, createWebHistory } from 'vue-router'

import DashboardView from '../views/DashboardView.vue'
import HomeView from '../views/HomeView.vue'

// History mode: real paths such as /dashboard, so the web server must answer
// unknown paths with index.html (nginx: try_files $uri $uri/ /index.html).
export default createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes: [
    { path: '/', name: 'home', component: HomeView },
    { path: '/dashboard', name: 'dashboard', component: DashboardView },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

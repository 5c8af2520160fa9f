import { createRouter, createWebHistory } from 'vue-router'

import HomeView from './views/HomeView.vue'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'home', component: HomeView },
    // Its own chunk, fetched when the route is first visited.
    { path: '/about', name: 'about', component: () => import('./views/AboutView.vue') },
  ],
})

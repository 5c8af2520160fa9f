import { defineStore } from 'pinia'

import { api } from '../api/client.js'

const TOKEN_KEY = 'webapp-example-token'

export const useAuthStore = defineStore('auth', {
  state: () => ({
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    user: null,
  }),
  getters: {
    isLoggedIn: (state) => Boolean(state.token),
  },
  actions: {
    async login(username) {
      const { data } = await api.post('/login', { username })
      this.token = data.token
      sessionStorage.setItem(TOKEN_KEY, data.token)
      await this.fetchMe()
    },
    async fetchMe() {
      const { data } = await api.get('/me')
      this.user = data
      return data
    },
    clear() {
      this.token = ''
      this.user = null
      sessionStorage.removeItem(TOKEN_KEY)
    },
  },
})

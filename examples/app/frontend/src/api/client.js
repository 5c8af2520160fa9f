// The one Axios instance of the app. Every API call goes through it.
import axios from 'axios'

import { useAuthStore } from '../stores/auth.js'
import { useUiStore } from '../stores/ui.js'

// development: http://127.0.0.1:8000/api (.env.development)
// production:  /api, same origin behind nginx (.env.production)
export const api = axios.create({
  baseURL: import.meta.env.VITE_API_BASE_URL,
  timeout: 15000,
  headers: { Accept: 'application/json' },
})

// Turn a path the API returned (e.g. a job's status_url, "/api/jobs/<id>") into a
// URL on the API's own origin, whichever base URL this build uses.
export function apiUrl(path) {
  const base = new URL(api.defaults.baseURL, window.location.origin)
  return new URL(path, base.origin).toString()
}

let installed = false

export function installInterceptors(router) {
  if (installed) return
  installed = true

  // Request: add the Bearer token from the auth store.
  api.interceptors.request.use((config) => {
    const auth = useAuthStore()
    if (auth.token) {
      config.headers.Authorization = `Bearer ${auth.token}`
    }
    return config
  })

  // Response: 401 -> session expired; 5xx or no answer -> global error banner.
  api.interceptors.response.use(
    (response) => response,
    (error) => {
      const ui = useUiStore()
      const status = error.response?.status
      if (status === 401) {
        const auth = useAuthStore()
        const hadToken = Boolean(auth.token)
        auth.clear()
        if (hadToken) {
          ui.setNotice('Your session has expired. Please log in again.')
          if (router.currentRoute.value.path !== '/') {
            router.push({ path: '/' })
          }
        }
      } else if (status >= 500) {
        const detail = error.response.data?.detail
        ui.setError(
          `Server error ${status}${typeof detail === 'string' ? `: ${detail}` : ''}. Please try again later.`,
        )
      } else if (!error.response) {
        ui.setError(`Cannot reach the API (${error.message}).`)
      }
      return Promise.reject(error)
    },
  )
}

import { defineStore } from 'pinia'

// Global, cross-page UI state: the error banner and one-line notices.
export const useUiStore = defineStore('ui', {
  state: () => ({
    errorMessage: '',
    notice: '',
  }),
  actions: {
    setError(message) {
      this.errorMessage = message
    },
    clearError() {
      this.errorMessage = ''
    },
    setNotice(message) {
      this.notice = message
    },
    clearNotice() {
      this.notice = ''
    },
  },
})

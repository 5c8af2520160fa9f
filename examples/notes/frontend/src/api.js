// Relative URLs: the page and the API are served from one origin (nginx, or Vite's proxy).
async function request(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Accept: 'application/json', ...options.headers },
  })
  if (!response.ok) throw new Error(`${options.method ?? 'GET'} ${path}: HTTP ${response.status}`)
  return response.json()
}

export function listNotes() {
  return request('/api/notes')
}

export function createNote(title, body) {
  return request('/api/notes', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title, body }),
  })
}

export default {
  nav: { home: 'Home', about: 'About', language: 'Français' },
  home: {
    title: 'Release board',
    welcome: 'Welcome, {name}: this page runs under the gateway\'s Content Security Policy',
    saved: 'Saved {count} release | Saved {count} releases',
    save: 'Save',
    rows: 'no release | one release | {count} releases',
    columns: { name: 'Release', host: 'Host', status: 'Status' },
    status: { live: 'live', previous: 'previous' },
  },
  about: {
    title: 'About this example',
    body: 'A lazily loaded route: Naive UI injects its styles as style elements at run time, and vue-i18n compiles these messages without eval.',
  },
}

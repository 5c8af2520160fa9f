export default {
  nav: { home: 'Accueil', about: 'À propos', language: 'English' },
  home: {
    title: 'Tableau des versions',
    welcome: 'Bienvenue, {name} : cette page respecte la politique de sécurité du contenu de la passerelle',
    saved: '{count} version enregistrée | {count} versions enregistrées',
    save: 'Enregistrer',
    rows: 'aucune version | une version | {count} versions',
    columns: { name: 'Version', host: 'Hôte', status: 'État' },
    status: { live: 'en service', previous: 'précédente' },
  },
  about: {
    title: 'À propos de cet exemple',
    body: 'Une route chargée à la demande : Naive UI injecte ses styles dans des éléments style à l\'exécution, et vue-i18n compile ces messages sans eval.',
  },
}

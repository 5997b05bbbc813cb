// What this key was refused: the API has no call that lists a key's scopes, so a 403 naming a scope is remembered
// (for this tab) and the actions that need it are disabled, with the reason shown.
const STORE = 'mas.console.lacking';

export const scopes = {
  lacks(scope) {
    return (sessionStorage.getItem(STORE) || '').split(',').includes(scope);
  },
  note(error, scope) {
    if (error && error.status === 403 && error.details.some(d => String(d).includes("lacks the scope '" + scope + "'"))) {
      const lacking = new Set((sessionStorage.getItem(STORE) || '').split(',').filter(Boolean));
      lacking.add(scope);
      sessionStorage.setItem(STORE, [...lacking].join(','));
    }
  },
  /** Another key signs in (or this one again, after the broker dropped it): what the last one lacked no longer holds. */
  forget() {
    sessionStorage.removeItem(STORE);
  },
};

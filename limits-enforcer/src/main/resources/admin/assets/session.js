// The admin token lives in sessionStorage only: gone when the tab closes, never in a cookie or localStorage.

const KEY = 'usage-meter.admin-token';

export const session = {
  token: () => sessionStorage.getItem(KEY),
  set: (token) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

/**
 * `meter dev` prints a sign-in link whose fragment carries a short-lived token (#token=...). The
 * fragment never reaches a server; the token moves to sessionStorage and out of the address bar and
 * the history at once.
 */
export function takeTokenFromFragment() {
  const match = /^#token=([^&]+)$/.exec(location.hash);
  if (!match) return false;
  session.set(decodeURIComponent(match[1]));
  history.replaceState(null, '', `${location.pathname}${location.search}#/users`);
  return true;
}

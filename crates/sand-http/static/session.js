// The session's expiry warning (WCAG 2.2.1, RGAA 13.1): two minutes before a signed-in
// session ends for want of activity, a dialog says so and offers to stay signed in;
// "Rester connecté" asks the server to extend the session. At the end, the browser goes
// to the login page, which says the session ended and comes back here afterwards.
// Without this script, the page says when the session ends.
(() => {
  'use strict';
  const note = document.getElementById('fin-session');
  const dialog = document.getElementById('session-alerte');
  const button = document.getElementById('session-prolonger');
  const hour = document.getElementById('fin-session-heure');
  if (!note || !dialog || !button || !hour) return;
  const WARN_BEFORE_MS = 2 * 60 * 1000;
  // counted from the page's arrival: the device's clock may be wrong
  let endsAt = Date.now() + Number(note.dataset.reste) * 1000;
  let timer;
  let back = null;

  const ended = () => {
    const here = window.location.pathname + window.location.search;
    window.location.assign(`/connexion?expiree=1&retour=${encodeURIComponent(here)}`);
  };
  const schedule = () => {
    window.clearTimeout(timer);
    const untilWarning = endsAt - WARN_BEFORE_MS - Date.now();
    timer = window.setTimeout(untilWarning > 0 ? warn : end, Math.max(0, untilWarning > 0 ? untilWarning : endsAt - Date.now()));
  };
  const warn = () => {
    back = document.activeElement;
    dialog.hidden = false;
    button.focus();
    timer = window.setTimeout(end, Math.max(0, endsAt - Date.now()));
  };
  const end = () => {
    if (Date.now() < endsAt) { schedule(); return; }
    ended();
  };
  button.addEventListener('click', async () => {
    try {
      const answer = await fetch('/espace/session', {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        redirect: 'manual',
      });
      if (!answer.ok) { ended(); return; }
      const session = await answer.json();
      endsAt = Date.now() + session.reste * 1000;
      hour.textContent = session.fin;
      dialog.hidden = true;
      if (back && typeof back.focus === 'function') back.focus();
      schedule();
    } catch (e) {
      ended();
    }
  });
  schedule();
})();

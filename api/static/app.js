// Progressive enhancement for the staff pages. Everything works without it; it
// keeps SLA countdowns live, puts the cursor where the page says, and asks before
// destructive actions. Loaded as a file because the pages forbid inline scripts.
(function () {
  'use strict';

  // Put the cursor in the [autofocus] field when the browser did not (some do not
  // after a redirect), and select a rejected value so the next scan replaces it.
  function focusField() {
    var el = document.querySelector('[autofocus]');
    if (!el) { return; }
    if (document.activeElement !== el) { el.focus(); }
    if (el.dataset && el.dataset.select === '1' && typeof el.select === 'function') { el.select(); }
  }

  function human(ms, withSeconds) {
    var total = Math.floor(ms / 1000);
    var mins = Math.floor(total / 60);
    var days = Math.floor(mins / 1440);
    var hours = Math.floor(mins / 60) % 24;
    var m = mins % 60;
    var s = total % 60;
    if (days > 0) { return days + ' d ' + hours + ' h'; }
    if (hours > 0) { return hours + ' h ' + m + ' min' + (withSeconds ? ' ' + pad(s) + ' s' : ''); }
    return m + ' min' + (withSeconds ? ' ' + pad(s) + ' s' : '');
  }

  function pad(n) { return n < 10 ? '0' + n : String(n); }

  // Each [data-due] element counts down to its RFC 3339 deadline; its phrases for
  // "left" and "overdue" come from the page, with {} where the time goes.
  function tick() {
    var now = Date.now();
    var els = document.querySelectorAll('[data-due]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var due = Date.parse(el.getAttribute('data-due'));
      if (isNaN(due)) { continue; }
      var left = due - now;
      var coarse = el.getAttribute('data-coarse') === '1';
      var phrase = left >= 0 ? el.getAttribute('data-left') : el.getAttribute('data-overdue');
      if (!phrase) { continue; }
      el.textContent = phrase.replace('{}', human(Math.abs(left), !coarse));
      el.classList.toggle('overdue', left < 0);
    }
  }

  // Forms with data-confirm ask before they submit.
  function confirmForms() {
    var forms = document.querySelectorAll('form[data-confirm]');
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener('submit', function (ev) {
        if (!window.confirm(this.getAttribute('data-confirm'))) { ev.preventDefault(); }
      });
    }
  }

  function start() {
    focusField();
    confirmForms();
    if (document.querySelector('[data-due]')) {
      tick();
      window.setInterval(tick, 1000);
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();

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

// The appointment screens, for the keyboard and the scanner: the arrow keys move
// between the slot buttons of the picker, and on the check-in form the scanner's
// Enter after the IMEI moves on to what is still missing instead of submitting a
// half-filled form.
(function () {
  'use strict';

  function slotKeys() {
    var picker = document.querySelector('.slot-picker');
    if (!picker) { return; }
    picker.addEventListener('keydown', function (ev) {
      var step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[ev.key];
      if (!step || !ev.target.classList || !ev.target.classList.contains('slot')) { return; }
      var buttons = Array.prototype.filter.call(picker.querySelectorAll('button.slot'), function (b) { return !b.disabled; });
      var i = buttons.indexOf(ev.target);
      var next = buttons[i + step];
      if (next) {
        ev.preventDefault();
        next.focus();
      }
    });
  }

  function checkInForm() {
    var form = document.querySelector('form[data-checkin]');
    if (!form) { return; }
    var imei = form.querySelector('#received_imei');
    var reasonField = form.querySelector('#mismatch-field');
    var reason = form.querySelector('#imei_mismatch_reason');
    var condition = form.querySelector('#condition');
    if (!imei || !reasonField || !reason || !condition) { return; }
    var expected = imei.getAttribute('data-imei') || '';

    function value() { return imei.value.replace(/\s+/g, ''); }
    function mismatch() { var v = value(); return /^\d{15}$/.test(v) && v !== expected; }
    function submit() {
      if (typeof form.requestSubmit === 'function') { form.requestSubmit(); } else { form.submit(); }
    }
    function nextStep(ev) {
      ev.preventDefault();
      if (value() === '') { imei.focus(); return; }
      if (mismatch() && reason.value.trim() === '') { reason.focus(); return; }
      if (condition.value.trim() === '') { condition.focus(); return; }
      submit();
    }
    // The reason is asked for as soon as the IMEI read is not the ticket's.
    function sync() {
      reasonField.hidden = !(mismatch() || reason.value.trim() !== '');
    }
    imei.addEventListener('input', sync);
    // The scanner's Enter: held back from the form on keydown and keypress, acted on
    // at keyup, once its keystroke can no longer land in the field the cursor moves to.
    function onEnter(field, handles) {
      var pending = false;
      field.addEventListener('keydown', function (ev) {
        if (ev.key !== 'Enter') { return; }
        pending = handles();
        if (pending) { ev.preventDefault(); }
      });
      field.addEventListener('keypress', function (ev) {
        if (ev.key === 'Enter' && pending) { ev.preventDefault(); }
      });
      field.addEventListener('keyup', function (ev) {
        if (ev.key !== 'Enter' || !pending) { return; }
        pending = false;
        sync();
        nextStep(ev);
      });
    }
    // An empty IMEI waits for the scan; one that is not 15 digits goes to the server,
    // which says what is wrong with it.
    onEnter(imei, function () { var v = value(); return v === '' || /^\d{15}$/.test(v); });
    onEnter(reason, function () { return true; });
    condition.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        submit();
      }
    });
    sync();
  }

  function start() {
    slotKeys();
    checkInForm();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();

// The repair order's test checklist, for the keyboard: on a test's radio buttons, P or
// A (aprobada) marks it passed, F failed, N not applicable, and the cursor moves on to
// the next test (after the last, to the save button); the up and down arrows move
// between tests (left and right still change the choice, as radio buttons do); Enter
// saves the checklist. Without the script the radio buttons work as they are.
(function () {
  'use strict';

  var keys = { p: 'pass', a: 'pass', f: 'fail', n: 'na' };

  function checklist() {
    var form = document.querySelector('form[data-checklist]');
    if (!form) { return; }
    var rows = Array.prototype.filter.call(form.querySelectorAll('[data-test-row]'), function (row) { return !row.disabled; });
    var save = form.querySelector('button[type="submit"]');

    // The radio button of a row that takes the cursor: the chosen one, else the first.
    function radioOf(row) {
      return row.querySelector('input[type="radio"]:checked') || row.querySelector('input[type="radio"]');
    }
    function focusRow(i) {
      if (i < 0) { return; }
      if (i >= rows.length) {
        if (save) { save.focus(); }
        return;
      }
      var radio = radioOf(rows[i]);
      if (radio) {
        radio.focus();
        if (typeof rows[i].scrollIntoView === 'function') { rows[i].scrollIntoView({ block: 'nearest' }); }
      }
    }
    function mark(row, result) {
      var radio = row.querySelector('input[type="radio"][value="' + result + '"]');
      if (!radio) { return; }
      radio.checked = true;
      radio.dispatchEvent(new Event('change', { bubbles: true }));
    }
    function submit() {
      if (typeof form.requestSubmit === 'function') { form.requestSubmit(); } else { form.submit(); }
    }

    form.addEventListener('keydown', function (ev) {
      var t = ev.target;
      if (!t || t.type !== 'radio' || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      var row = t.closest('[data-test-row]');
      var i = rows.indexOf(row);
      if (i < 0) { return; }
      var result = keys[(ev.key || '').toLowerCase()];
      if (result) {
        ev.preventDefault();
        mark(row, result);
        focusRow(i + 1);
      } else if (ev.key === 'ArrowDown') {
        ev.preventDefault();
        focusRow(i + 1);
      } else if (ev.key === 'ArrowUp') {
        ev.preventDefault();
        focusRow(i - 1);
      } else if (ev.key === 'Enter') {
        ev.preventDefault();
        submit();
      }
    });

    // Each row shows its result by its colour as soon as it is chosen.
    form.addEventListener('change', function (ev) {
      var t = ev.target;
      if (!t || t.type !== 'radio') { return; }
      var row = t.closest('[data-test-row]');
      if (!row) { return; }
      ['pass', 'fail', 'na', 'none'].forEach(function (r) { row.classList.remove('result-' + r); });
      row.classList.add('result-' + t.value);
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', checklist);
  } else {
    checklist();
  }
})();

// Scan lists (inventory screens): the scanner types an IMEI into the scan box and
// presses Enter; the IMEI joins the list below it (a textarea, one IMEI a line, which
// is what the form sends) and the box is empty for the next one. A read that is not an
// IMEI, or one already on the list, is said beside the box and left out. The form is
// sent with its button. Without the script the textarea is the list, and the box's
// Enter sends the form with the IMEI it holds.
(function () {
  'use strict';

  // validIMEI: 15 digits whose last is the Luhn check digit of the first 14.
  function validIMEI(s) {
    if (!/^\d{15}$/.test(s)) { return false; }
    var sum = 0;
    for (var i = 0; i < 15; i++) {
      var d = s.charCodeAt(14 - i) - 48;
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) { d -= 9; }
      }
      sum += d;
    }
    return sum % 10 === 0;
  }

  function lines(list) {
    return list.value.split(/[\s,;]+/).filter(function (v) { return v !== ''; });
  }

  function setup(box) {
    var input = box.querySelector('[data-scan-into]');
    var list = box.querySelector('textarea');
    var status = box.querySelector('.scan-status');
    var count = box.querySelector('[data-scan-count]');
    if (!input || !list) { return; }

    function update() { if (count) { count.textContent = String(lines(list).length); } }
    function say(attr, imei, bad) {
      if (!status) { return; }
      status.textContent = (input.getAttribute(attr) || '').replace('{}', imei);
      status.classList.toggle('bad', !!bad);
    }
    function add() {
      var v = input.value.replace(/\s+/g, '');
      if (v === '') { return; }
      if (!validIMEI(v)) {
        say('data-msg-invalid', v, true);
        input.select();
        return;
      }
      var have = lines(list);
      if (have.indexOf(v) >= 0) {
        say('data-msg-twice', v, true);
        input.value = '';
        return;
      }
      have.push(v);
      list.value = have.join('\n') + '\n';
      input.value = '';
      say('data-msg-added', v, false);
      update();
    }
    // The scanner's Enter adds, and never sends the form.
    input.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Enter') { return; }
      ev.preventDefault();
      add();
    });
    input.addEventListener('keypress', function (ev) {
      if (ev.key === 'Enter') { ev.preventDefault(); }
    });
    list.addEventListener('input', update);
    update();
  }

  function start() {
    var boxes = document.querySelectorAll('[data-scan-list]');
    for (var i = 0; i < boxes.length; i++) { setup(boxes[i]); }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();

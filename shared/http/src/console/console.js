// The console's only script: a live "time left", and the new-request form's suggestions
// following the chosen role. Every page works without it.
"use strict";
(function () {
  const left = document.getElementById("time-left");
  if (left) {
    const expires = Date.parse(left.dataset.expires);
    // Count from the server's clock, not the browser's: the two may disagree.
    const offset = Date.parse(left.dataset.now) - Date.now();
    const show = () => {
      const secs = Math.floor((expires - (Date.now() + offset)) / 1000);
      if (secs <= 0) { left.textContent = "expired"; return; }
      const h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
      left.textContent = h > 0 ? `${h}h ${m}m left` : m > 0 ? `${m}m ${s}s left` : `${s}s left`;
      setTimeout(show, 1000);
    };
    show();
  }
  const role = document.getElementById("role");
  if (role) {
    const follow = () => {
      const o = role.selectedOptions[0];
      if (!o) return;
      document.getElementById("scope").setAttribute("list", o.dataset.scopes);
      document.getElementById("principal").setAttribute("list", o.dataset.principals);
      document.getElementById("duration").setAttribute("placeholder", o.dataset.default);
    };
    role.addEventListener("change", follow);
    follow();
  }
})();

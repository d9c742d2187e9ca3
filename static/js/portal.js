// Small behaviours shared by every page. No inline scripts: the CSP allows only our files.
(function () {
  "use strict";

  // Live countdown to a deadline: <span data-countdown="ISO-8601" data-expired-text="...">.
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-countdown"));
      var left = Math.floor((end - Date.now()) / 1000);
      if (isNaN(end)) { return; }
      if (left < 0) { el.textContent = el.getAttribute("data-expired-text") || "0"; return; }
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      var dayWord = el.getAttribute("data-day-word") || "d";
      el.textContent = (d > 0 ? d + dayWord + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    });
  }
  tick();
  setInterval(tick, 1000);

  // Charts: <canvas data-chart='{"type": ..., "data": ...}'> drawn with Chart.js when loaded.
  function drawCharts() {
    if (typeof window.Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      canvas.dataset.drawn = "1";
      var config = JSON.parse(canvas.getAttribute("data-chart"));
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
      new window.Chart(canvas, config);
    });
  }
  document.addEventListener("DOMContentLoaded", drawCharts);
  document.body.addEventListener("htmx:afterSwap", drawCharts);

  // The header's menu button at narrow widths (the only behaviour every page needs from
  // Bootstrap's script, so that script is not loaded for it).
  document.querySelectorAll("[data-portal-toggle]").forEach(function (button) {
    var target = document.querySelector(button.getAttribute("data-portal-toggle"));
    if (!target) { return; }
    button.addEventListener("click", function () {
      var open = target.classList.toggle("show");
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.classList.toggle("collapsed", !open);
    });
  });

  // Bootstrap's and htmx's scripts only for a page that uses them (their URLs are given on
  // this script's tag): most pages need neither, and each costs main-thread time on a phone.
  function load(url) {
    if (!url) { return; }
    var script = document.createElement("script");
    script.src = url;
    document.head.appendChild(script);
  }
  var self = document.currentScript;
  if (self) {
    if (document.querySelector("[data-bs-toggle], [data-bs-dismiss], [data-bs-ride], [data-bs-spy]")) {
      load(self.getAttribute("data-bootstrap"));
    }
    if (document.querySelector("[hx-get], [hx-post], [hx-put], [hx-patch], [hx-delete], [hx-boost], [data-hx-get], [data-hx-post]")) {
      // htmx starts at DOMContentLoaded, or at once when the page has fully loaded: a script
      // arriving in between would wait for an event that has already passed.
      var htmxUrl = self.getAttribute("data-htmx");
      if (document.readyState === "complete") { load(htmxUrl); }
      else { window.addEventListener("load", function () { load(htmxUrl); }); }
    }
  }

  // Focus the main landmark when the skip link is used.
  var skip = document.querySelector(".skip-link");
  if (skip) {
    skip.addEventListener("click", function () { var m = document.getElementById("main"); if (m) { m.focus(); } });
  }
})();

(function () {
  "use strict";
  var cases = Array.prototype.slice.call(document.querySelectorAll("details.case"));
  var flagSel = document.getElementById("flag-filter");
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  var texts = null;

  function matches(c, i, flag, q) {
    var flags = (c.getAttribute("data-flags") || "").split(" ").filter(Boolean);
    if (flag === "__none__" && flags.length) { return false; }
    if (flag === "__any__" && !flags.length) { return false; }
    if (flag && flag.charAt(0) !== "_" && flags.indexOf(flag) < 0) { return false; }
    if (q) {
      if (texts === null) { texts = cases.map(function (x) { return x.textContent.toLowerCase(); }); }
      if (texts[i].indexOf(q) < 0) { return false; }
    }
    return true;
  }

  function apply(updateHash) {
    var flag = flagSel ? flagSel.value : "";
    var q = search ? search.value.trim().toLowerCase() : "";
    var n = 0, t0 = window.performance ? window.performance.now() : 0;
    cases.forEach(function (c, i) {
      var ok = matches(c, i, flag, q);
      c.hidden = !ok;
      if (ok) { n += 1; if (q) { c.open = true; } }
    });
    if (shown) { shown.textContent = String(n); }
    if (window.performance) {  // for benchmarks: how long filtering took
      document.documentElement.setAttribute("data-apply-ms", String(Math.round(window.performance.now() - t0)));
    }
    if (updateHash && window.history && window.history.replaceState) {
      var parts = [];
      if (flag) { parts.push("flag=" + encodeURIComponent(flag)); }
      if (q) { parts.push("q=" + encodeURIComponent(q)); }
      try { window.history.replaceState(null, "", parts.length ? "#" + parts.join("&") : window.location.pathname); }
      catch (e) { /* some browsers refuse replaceState on file:// pages; the filter still works */ }
    }
  }

  function fromHash() {
    var h = window.location.hash.replace(/^#/, "");
    if (!h || h.indexOf("=") < 0) { return; }
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i < 0) { return; }
      var k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " "));
      if (k === "flag" && flagSel) {
        for (var j = 0; j < flagSel.options.length; j++) {
          if (flagSel.options[j].value === v) { flagSel.value = v; }
        }
      }
      if (k === "q" && search) { search.value = v; }
    });
  }

  function setAll(open) { cases.forEach(function (c) { if (!c.hidden) { c.open = open; } }); }

  if (flagSel) { flagSel.addEventListener("change", function () { apply(true); }); }
  if (search) {
    var timer = null;
    search.addEventListener("input", function () {
      if (timer) { window.clearTimeout(timer); }
      timer = window.setTimeout(function () { apply(true); }, 150);
    });
  }
  var ex = document.getElementById("expand-all"), co = document.getElementById("collapse-all");
  if (ex) { ex.addEventListener("click", function () { setAll(true); }); }
  if (co) { co.addEventListener("click", function () { setAll(false); }); }
  // A link to a note opens its case first.
  document.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a[href^='#n']") : null;
    if (!a) { return; }
    var t = document.getElementById(a.getAttribute("href").slice(1));
    var d = t ? t.closest("details.case") : null;
    if (d) { d.hidden = false; d.open = true; }
  });
  fromHash();
  apply(false);
  document.documentElement.setAttribute("data-js", "ready");
  if (window.performance) {  // for benchmarks: from navigation start to the page being parsed and ready
    document.documentElement.setAttribute("data-ready-ms", String(Math.round(window.performance.now())));
  }
})();

(function () {
  function figures() {
    var images = document.images, loaded = 0;
    for (var i = 0; i < images.length; i++) {
      if (images[i].complete && images[i].naturalWidth > 0) { loaded++; }
    }
    document.body.setAttribute("data-figures-loaded", loaded + "/" + images.length);
  }
  window.addEventListener("load", figures);
  var table = document.getElementById("items-table");
  if (!table) { return; }
  var rows = table.tBodies[0].rows, names = ["split", "task", "kind", "q"], controls = {};
  names.forEach(function (n) { controls[n] = document.getElementById("filter-" + n); });
  var params = new URLSearchParams(window.location.hash.slice(1));
  names.forEach(function (n) { if (params.has(n)) { controls[n].value = params.get(n); } });
  function apply() {
    var q = controls.q.value.toLowerCase(), shown = 0, state = new URLSearchParams();
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], keep = true;
      ["split", "task", "kind"].forEach(function (n) {
        var wanted = controls[n].value;
        if (wanted && r.getAttribute("data-" + n) !== wanted) { keep = false; }
      });
      if (keep && q && r.textContent.toLowerCase().indexOf(q) < 0) { keep = false; }
      r.hidden = !keep;
      if (keep) { shown++; }
    }
    names.forEach(function (n) { if (controls[n].value) { state.set(n, controls[n].value); } });
    document.getElementById("filter-count").textContent = shown + " of " + rows.length + " items";
    table.setAttribute("data-shown", String(shown));
    var hash = state.toString() ? "#" + state.toString() : "";
    try { history.replaceState(null, "", location.pathname + location.search + hash); } catch (e) {}
  }
  names.forEach(function (n) { controls[n].addEventListener("input", apply); });
  apply();
})();

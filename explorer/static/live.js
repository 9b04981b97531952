// Live refresh: when a block commits, the home page's latest blocks and height update. Without
// JavaScript every page is complete; it just does not refresh.
(function () {
  var latest = document.getElementById("latest");
  if (!latest || !window.EventSource) return;
  var height = document.getElementById("height");
  var busy = false;
  var es = new EventSource("/live");
  es.addEventListener("block", function (e) {
    if (height) height.textContent = e.data;
    if (busy) return;
    busy = true;
    fetch("/fragment/latest").then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null) latest.innerHTML = html;
    }).catch(function () {}).then(function () { busy = false; });
  });
})();

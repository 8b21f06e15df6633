// The CDN copy of htmx did not load (offline, blocked): load the vendored copy instead.
// A file, not an inline script: the Content-Security-Policy allows scripts from this site only.
if (!window.htmx) {
  document.write('<script src="' + document.currentScript.dataset.src + '"><\/script>');
}

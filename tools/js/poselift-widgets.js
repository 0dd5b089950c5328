// Glue between the vendored widget manager (jupyter-widgets/embed-amd.js) and the offline book.
// Loaded after require.js and before embed-amd.js on pages that hold widgets (nb_ipywidgets_js in _config.yml).
(function () {
  // 1. embed-amd.js finds its icon fonts next to the URL that require.js gives its own module, by default
  //    <page folder>/@jupyter-widgets/html-manager/dist/: point that module path at the vendored copy.
  var here = document.currentScript.src;
  require.config({paths: {"@jupyter-widgets/html-manager/dist": new URL("jupyter-widgets", here).href}});
  // 2. ipywidgets 8 typesets widget labels through the MathJax 2 API (MathJax.Hub.Queue); the book loads
  //    MathJax 3. This listener runs after the deferred MathJax script and before embed-amd.js renders widgets.
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.MathJax || window.MathJax.Hub) return;
    window.MathJax.Hub = {Queue: function (job) {
      var el = Array.isArray(job) ? job[2] : undefined;
      if (window.MathJax.typesetPromise) window.MathJax.typesetPromise(el ? [el] : undefined).catch(function () {});
    }};
  });
})();

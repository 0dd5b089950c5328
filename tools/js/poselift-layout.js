// Content wider than the article's text column stays in sight (loaded with `defer` on every page: html_js_files in
// _config.yml; tools/check_book.py fails a page where anything is cut off or runs past the column).
(function () {
  var article = document.querySelector("article.bd-article");
  if (!article) return;

  // 1. Wide tables take the right margin instead of scrolling out of sight. At a 1280 px window the column is
  //    ~690 px; a results table of 13 columns needs ~900. sphinx-book-theme widens content marked `full-width`
  //    (cells: `tag_full-width`) into the right margin at >= 992 px and hides its page table of contents while such
  //    content is on screen, so the contents never cover it. This script is deferred: it runs before
  //    DOMContentLoaded, when sphinx-book-theme starts watching `full-width` elements, so no notebook has to tag
  //    its cells.
  article.querySelectorAll("table").forEach(function (table) {
    // the box whose width the table must fit: the output area of a notebook cell, else the prose column
    var box = table.closest(".cell_output .output") || table.closest(".pst-scrollable-table-container") ||
              table.parentElement;
    if (table.scrollWidth <= box.clientWidth + 1) return;
    var cell = table.closest("div.cell");
    if (cell) cell.classList.add("tag_full-width");
    else (table.closest(".pst-scrollable-table-container") || table).classList.add("full-width");
  });

  // 2. Display formulas wider than the column are set in a smaller size until they fit (down to 70 %): MathJax 3
  //    does not break lines, and its box would otherwise scroll part of the formula out of sight. Runs once
  //    MathJax has typeset the page, and again when the window is resized.
  function fitFormulas() {
    article.querySelectorAll("div.math mjx-container").forEach(function (box) {
      box.style.fontSize = "";
      var math = box.querySelector("mjx-math");
      if (!math) return;
      var need = math.getBoundingClientRect().width, room = box.clientWidth;
      if (need > room + 1) box.style.fontSize = (100 * Math.max(0.7, 0.98 * room / need)).toFixed(1) + "%";
    });
  }
  function whenTypeset() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(fitFormulas);
  }
  if (window.MathJax && window.MathJax.startup) whenTypeset();
  else window.addEventListener("load", whenTypeset);  // MathJax loaded after this script
  var pending;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(fitFormulas, 200);
  });
})();

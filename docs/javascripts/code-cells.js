/*
 * Colour the code cells of the chapters in the browser.
 *
 * The build leaves each notebook code cell as plain text in
 * <pre><code class="language-python"> (book_site/page_weight.py: Pygments'
 * per-token markup was most of a chapter's HTML). Prism colours it here; the
 * colours are set in docs/stylesheets/extra.css.
 *
 * Prism is vendored, unchanged, in vendor/prism/: prism-core.min.js and
 * prism-python.min.js of Prism 1.30.0 (MIT licence, vendor/prism/LICENSE).
 * To update, replace both with the same two files of a newer release.
 *
 * This file loads before Prism (see extra_javascript in mkdocs.yml): in
 * manual mode Prism colours only the elements we hand it. Left to itself it
 * would also re-colour Material's own code blocks, which the build already
 * coloured.
 */
window.Prism = window.Prism || {};
window.Prism.manual = true;

(function () {
  let grammarFixed = false;

  // Prism's Python grammar still counts print as a keyword (it was one in
  // Python 2); in Python 3 it is a function, shown like any other name.
  function fixPythonGrammar() {
    const python = window.Prism.languages.python;
    if (grammarFixed || !python || !(python.keyword instanceof RegExp)) return;
    python.keyword = new RegExp(python.keyword.source.replace("|print|", "|"), python.keyword.flags);
    grammarFixed = true;
  }

  function colourCodeCells() {
    fixPythonGrammar();
    const cells = document.querySelectorAll(".jupyter-wrapper pre > code[class*='language-']");
    cells.forEach((cell) => window.Prism.highlightElement(cell));
  }

  // Material's document$ emits once the page's scripts have run (Prism is loaded
  // by then) and again after every instant navigation. Without Material's
  // JavaScript, colour the page once it has loaded.
  if (typeof document$ !== "undefined") {
    document$.subscribe(colourCodeCells);
  } else {
    window.addEventListener("DOMContentLoaded", colourCodeCells);
  }
})();

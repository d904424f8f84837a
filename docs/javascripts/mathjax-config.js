/*
 * MathJax configuration and typesetting for the book.
 *
 * Loaded before MathJax itself (see extra_javascript in mkdocs.yml). Math in
 * the pages comes from the arithmatex extension as \( ... \) and \[ ... \]
 * inside elements of class "arithmatex"; MathJax only looks there (and in
 * Material's navigation labels, "md-ellipsis", where the math of a heading
 * arrives as plain text in the table of contents), so a dollar sign in code or
 * prose is never mistaken for math.
 *
 * Output is SVG with a *local* font cache: every equation carries its own glyph
 * paths. With a global cache (or CHTML output and its web fonts) the glyph
 * definitions live outside the page content, and Material's instant navigation,
 * which swaps that content, can leave equations that draw nothing.
 */
(function () {
  let mathjaxReady;
  const whenMathJaxReady = new Promise((resolve) => (mathjaxReady = resolve));

  window.MathJax = {
    tex: {
      inlineMath: [["\\(", "\\)"]],
      displayMath: [["\\[", "\\]"]],
      processEscapes: true,
      processEnvironments: true,
      tags: "ams",
    },
    options: {
      ignoreHtmlClass: ".*|",
      processHtmlClass: "arithmatex|md-ellipsis",
    },
    svg: {
      fontCache: "local",
    },
    startup: {
      // We typeset ourselves, once per page view (below).
      typeset: false,
      pageReady() {
        return MathJax.startup.defaultPageReady().then(mathjaxReady);
      },
    },
  };

  // One typeset at a time: a fast reader can navigate before the last finishes.
  let queue = Promise.resolve();

  function typesetPage() {
    queue = queue
      .then(() => whenMathJaxReady)
      .then(() => {
        MathJax.typesetClear();
        MathJax.texReset();
        return MathJax.typesetPromise();
      })
      .catch((error) => console.error("MathJax typesetting failed:", error));
    return queue;
  }

  // Material's document$ emits on the first load and after every instant
  // navigation; without Material's JavaScript, typeset once.
  if (typeof document$ !== "undefined") {
    document$.subscribe(typesetPage);
  } else {
    typesetPage();
  }
})();

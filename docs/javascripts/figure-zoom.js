/*
 * Click a figure of a chapter to see it full size.
 *
 * The figures are embedded in the page (data URIs), so wrapping each in a link to itself,
 * as lightbox plugins do, would store every figure twice. Instead one click handler on
 * the document opens the clicked image in GLightbox (loaded by the mkdocs-glightbox
 * plugin, in manual mode: it wraps nothing itself), with the figure's description (its
 * alt text) under it. Being on the document, it keeps working after Material's instant
 * navigation swaps the page.
 */
(function () {
  const FIGURES = ".jupyter-wrapper .jp-OutputArea-output img";

  document.addEventListener("click", function (event) {
    const image = event.target.closest(FIGURES);
    if (!image || typeof GLightbox !== "function") return;
    event.preventDefault();
    const lightbox = GLightbox({
      elements: [{ href: image.src, type: "image", description: image.alt || "" }],
      zoomable: true,
      draggable: false,
      closeOnOutsideClick: true,
    });
    lightbox.on("close", () => lightbox.destroy());
    lightbox.open();
  });
})();

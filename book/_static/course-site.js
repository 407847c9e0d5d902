/* Chapter 14 site behaviour (issue 15): no dependencies, nothing loaded from the network.
 *
 * 1. Figures open full size on tap or click (phones shrink multi-panel figures), in an overlay
 *    that keeps the image's alt text and shows its caption; Escape, the button or a tap closes it.
 * 2. sphinx-togglebutton and myst-nb name their toggles "Toggle hidden content": a solution's
 *    chevron button is named after its box ("Show or hide: Solution to Exercise 3"), and a
 *    "Show code cell source" summary keeps its visible text as its name (axe: button-name,
 *    label-content-name-mismatch).
 * 3. Search result snippets show formulas as plain text, not raw TeX.
 * 4. An inline formula wider than the column scrolls in its own box (custom.css).
 */
(function () {
  "use strict";

  // ---- 1. lightbox
  function openLightbox(img) {
    const box = document.createElement("div");
    box.className = "course-lightbox";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", "Figure, full size");
    const close = document.createElement("button");
    close.type = "button";
    close.className = "course-lightbox__close";
    close.textContent = "Close";
    const big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.alt || "";
    // the figure's intended CSS width (2x PNGs carry it in their width attribute): on a phone
    // wider than the screen, and the reader pans
    const natural = parseFloat(img.getAttribute("width")) || img.naturalWidth;
    big.style.width = natural + "px";
    box.appendChild(close);
    box.appendChild(big);
    const fig = img.closest("figure");
    const cap = fig && fig.querySelector("figcaption");
    if (cap) {
      const c = document.createElement("p");
      c.className = "course-lightbox__caption";
      c.textContent = cap.textContent.trim();
      box.appendChild(c);
    }
    const previous = document.activeElement;
    function done() {
      box.remove();
      document.removeEventListener("keydown", onKey);
      if (previous && previous.focus) previous.focus();
    }
    function onKey(ev) { if (ev.key === "Escape") done(); }
    box.addEventListener("click", done);
    document.addEventListener("keydown", onKey);
    document.body.appendChild(box);
    close.focus();
  }

  function setUpLightbox() {
    const images = document.querySelectorAll(
      ".bd-article .cell_output img, .bd-article figure img");
    images.forEach(function (img) {
      if (img.closest("a, .vae-explorer")) return;
      img.addEventListener("click", function () { openLightbox(img); });
    });
  }

  // ---- 2. toggle button names
  function fixToggleNames() {
    // the solution/dropdown buttons show only a chevron: name them after their box's title
    document.querySelectorAll('button.toggle-button[aria-label="Toggle hidden content"]')
      .forEach(function (b) {
        const title = b.closest(".admonition-title");
        const text = title ? title.textContent.trim().replace(/\s+/g, " ") : "";
        b.setAttribute("aria-label", text ? "Show or hide: " + text : "Show or hide");
      });
    // myst-nb's "Show code cell source" summaries: their visible text is their name
    document.querySelectorAll('summary[aria-label="Toggle hidden content"]')
      .forEach(function (s) { s.removeAttribute("aria-label"); });
  }

  // ---- 3. search snippets without TeX
  const GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi chi psi omega";
  const GREEK_CHARS = "αβγδεζηθικλμνξπρστυφχψω";
  const SYMBOLS = {
    "\\mid": "|", "\\Vert": "‖", "\\|": "‖", "\\le": "≤", "\\leq": "≤", "\\ge": "≥", "\\geq": "≥",
    "\\approx": "≈", "\\sim": "~", "\\times": "×", "\\cdot": "·", "\\odot": "⊙", "\\sum": "Σ",
    "\\int": "∫", "\\infty": "∞", "\\nabla": "∇", "\\partial": "∂", "\\to": "→", "\\in": "∈",
    "\\log": "log", "\\exp": "exp", "\\KL": "KL", "\\Sigma": "Σ", "\\Phi": "Φ", "\\Omega": "Ω",
  };
  GREEK.split(" ").forEach(function (name, i) { SYMBOLS["\\" + name] = GREEK_CHARS[i]; });
  SYMBOLS["\\varepsilon"] = "ε";
  SYMBOLS["\\epsilon"] = "ε";

  function plainTeX(tex) {
    let t = tex.replace(/^\s*(\\\(|\\\[|\$\$?)/, "").replace(/(\\\)|\\\]|\$\$?)\s*$/, "");
    t = t.replace(/\\(?:begin|end)\{[a-z*]+\}/g, " ");
    t = t.replace(/\\(?:mathrm|mathbf|mathcal|mathbb|operatorname|text|textrm|boldsymbol|hat|bar|tilde|widehat)\s*\{([^{}]*)\}/g, "$1");
    t = t.replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)");
    t = t.replace(/\\[A-Za-z]+|\\\|/g, function (cmd) { return cmd in SYMBOLS ? SYMBOLS[cmd] : " "; });
    t = t.replace(/\\[,;:! ]/g, " ").replace(/[{}&]|\\\\/g, " ");
    return t.replace(/\s+/g, " ").trim();
  }
  window.courseSitePlainTeX = plainTeX;

  function patchSearch() {
    // searchtools.js declares `const Search`: a global binding, but not a property of window
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.courseSite) return;
    const original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math").forEach(function (el) { el.textContent = plainTeX(el.textContent); });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search.htmlToText.courseSite = true;
  }

  // ---- 4. inline formulas wider than their line (MathJax does not break them)
  function markWideInlineMath() {
    document.querySelectorAll('.bd-article mjx-container[jax="CHTML"]:not([display="true"])')
      .forEach(function (m) {
        // the block the formula sits in (its own span.math is exactly as wide as it is)
        const block = m.parentElement && m.parentElement.closest("p, li, dd, td, th, div, figcaption");
        if (!block) return;
        const box = block.getBoundingClientRect();
        const r = m.getBoundingClientRect();
        const wide = r.width > box.width + 1 || r.right > box.right + 1;
        m.classList.toggle("course-wide-inline", wide);
        if (wide) scrollBox(m);
      });
  }
  // a display formula still wider than its box scrolls: keyboard users reach it with Tab
  // (one stop, named as a scroll box), as axe's scrollable-region-focusable asks
  function markWideDisplayMath() {
    document.querySelectorAll('.bd-article mjx-container[jax="CHTML"][display="true"]')
      .forEach(function (m) {
        if (m.scrollWidth > m.clientWidth + 1) scrollBox(m);
      });
  }
  function scrollBox(m) {
    m.classList.add("course-wide-math");
    m.setAttribute("tabindex", "0");
    m.setAttribute("role", "region");
    m.setAttribute("aria-label", "Wide formula, scrolls sideways");
  }
  function afterMath(tries) {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(markWideInlineMath).then(markWideDisplayMath);
    } else if (document.querySelector(".math") && (tries || 0) < 100) {
      setTimeout(function () { afterMath((tries || 0) + 1); }, 200);  // MathJax still loading
    }
  }

  patchSearch();
  function ready() {
    afterMath();
    patchSearch();
    fixToggleNames();
    setUpLightbox();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();

/*
 * explorer-figures.js: two kernel-free interactive figures of "Chapter 14: Variational
 * Autoencoders", the same code on the site and (through vae_lib.widgets.KLFigure and
 * GradientFigure, anywidgets) in the notebooks.
 *
 *   <div class="vae-figure" data-figure="kl" data-mu="0.5" data-var="0.25"></div>          (lesson 14-4)
 *   <div class="vae-figure" data-figure="gradient" data-mu="0.5" data-sigma="1" data-k="2" data-n="1000"></div> (14-5)
 *   <script src="../_static/explorer-figures.js"></script>
 *
 * kl: q = N(mu, sigma^2) against p = N(0, 1) with sliders for mu and sigma^2;
 *     KL(q || p) = 1/2 mu^2 + 1/2 (sigma^2 - log sigma^2 - 1), both parts shown.
 * gradient: n fresh samples z = mu + sigma * eps and, for f(z) = (z - k)^2, the histograms of
 *     the pathwise estimates 2 (z - k) and the score-function estimates (z - k)^2 (z - mu) / sigma^2
 *     of d/dmu E[f] = 2 (mu - k), with their sample variances against the closed forms
 *     4 sigma^2 and d^4 / sigma^2 + 14 d^2 + 15 sigma^2 (d = mu - k).
 *
 * API: window.vaeFigures = {kl(mu, variance), closedForms(mu, sigma, k),
 *      gradientSamples(mu, sigma, k, n, seed), instances}.
 */
(function () {
  "use strict";
  if (window.vaeFigures && window.vaeFigures.version) { window.vaeFigures.scan(); return; }

  var COLOURS = { q: "#0072B2", p: "#555555", pathwise: "#0072B2", score: "#D55E00" }; // Okabe-Ito

  function kl(mu, variance) {
    var meanTerm = 0.5 * mu * mu, varianceTerm = 0.5 * (variance - Math.log(variance) - 1);
    return { kl: meanTerm + varianceTerm, mean_term: meanTerm, variance_term: varianceTerm };
  }
  function closedForms(mu, sigma, k) {
    var d = mu - k, s2 = sigma * sigma;
    return { gradient: 2 * d, var_pathwise: 4 * s2, var_score: Math.pow(d, 4) / s2 + 14 * d * d + 15 * s2 };
  }
  function rng(seed) { // mulberry32 + Box-Muller: reproducible standard normals
    var a = seed >>> 0;
    function u() {
      a = (a + 0x6D2B79F5) >>> 0;
      var t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    return function () { return Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()); };
  }
  function gradientSamples(mu, sigma, k, n, seed) {
    var r = rng(seed), pw = new Float64Array(n), sf = new Float64Array(n), s2 = sigma * sigma;
    for (var i = 0; i < n; i++) {
      var z = mu + sigma * r();
      pw[i] = 2 * (z - k);
      sf[i] = (z - k) * (z - k) * (z - mu) / s2;
    }
    return { pathwise: Array.from(pw), score: Array.from(sf) };
  }
  function stats(a) {
    var m = 0, v = 0, i;
    for (i = 0; i < a.length; i++) m += a[i];
    m /= a.length;
    for (i = 0; i < a.length; i++) v += (a[i] - m) * (a[i] - m);
    return { mean: m, variance: v / (a.length - 1) };
  }
  function fmt(v, d) { var s = v.toFixed(d); return /^-0\.0*$/.test(s) ? s.slice(1) : s; }
  function el(tag, attrs, parent) {
    var node = document.createElement(tag);
    for (var k in attrs) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(node);
    return node;
  }
  var uid = 0;

  function slider(parent, name, label, min, max, step, value, onInput) {
    var id = "vae-figure-" + (++uid) + "-" + name;
    var row = el("div", { class: "vae-figure__row" }, parent);
    var lab = el("label", { for: id }, row);
    lab.innerHTML = label;
    var input = el("input", { type: "range", id: id, min: String(min), max: String(max), step: String(step),
                              value: String(value), class: "vae-figure__slider", "data-name": name }, row);
    var out = el("output", { for: id, class: "vae-figure__value" }, row);
    input.addEventListener("input", onInput);
    return { input: input, out: out };
  }

  function canvas(parent, w, h, label) {
    var dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
    var c = el("canvas", { class: "vae-figure__canvas", width: String(w * dpr), height: String(h * dpr), role: "img", "aria-label": label }, parent);
    var g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { c: c, g: g, w: w, h: h };
  }

  // ----------------------------------------------------------------------- KL figure
  function KLFigure(root, opts) {
    var self = this;
    this.root = root; this.onchange = opts.onchange || null;
    var app = this.app = el("div", { class: "vae-figure__app" }, root);
    this.plot = canvas(app, 420, 220, "Densities of q = N(mu, sigma squared) and of the prior N(0, 1)");
    var controls = el("div", { class: "vae-figure__controls" }, app);
    this.mu = slider(controls, "mu", "\u03bc", -3, 3, 0.01, opts.mu, function () { self.update(true); });
    this.v = slider(controls, "var", "\u03c3\u00b2", 0.05, 4, 0.01, opts.variance, function () { self.update(true); });
    this.readout = el("div", { class: "vae-figure__readout", "aria-live": "polite" }, app);
    this.bars = canvas(app, 420, 64, "The KL and its two parts as bars");
    this.update(false);
  }
  KLFigure.prototype.values = function () { return { mu: parseFloat(this.mu.input.value), variance: parseFloat(this.v.input.value) }; };
  KLFigure.prototype.set = function (mu, variance) { this.mu.input.value = String(mu); this.v.input.value = String(variance); this.update(false); };
  KLFigure.prototype.state = function () { var v = this.values(); var r = kl(v.mu, v.variance); r.mu = v.mu; r.variance = v.variance; r.readout = this.readout.textContent; return r; };
  KLFigure.prototype.update = function (user) {
    var v = this.values(), r = kl(v.mu, v.variance), P = this.plot, g = P.g, W = P.w, H = P.h;
    this.mu.out.textContent = fmt(v.mu, 2); this.v.out.textContent = fmt(v.variance, 2);
    var lo = -5, hi = 5, L = 30, R = 8, T = 8, B = 24;
    var ymax = Math.max(0.45, 1 / Math.sqrt(2 * Math.PI * v.variance) * 1.08);
    var X = function (z) { return L + (z - lo) / (hi - lo) * (W - L - R); }, Y = function (y) { return H - B - y / ymax * (H - T - B); };
    g.clearRect(0, 0, W, H); g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    g.strokeStyle = "#888"; g.lineWidth = 1; g.beginPath(); g.moveTo(L, H - B); g.lineTo(W - R, H - B); g.stroke();
    g.fillStyle = "#333"; g.font = "11px system-ui, sans-serif"; g.textAlign = "center"; g.textBaseline = "top";
    for (var t = lo; t <= hi; t++) g.fillText(String(t), X(t), H - B + 4);
    function curve(m, s2, colour, dash, fill) {
      g.beginPath();
      for (var i = 0; i <= 400; i++) {
        var z = lo + (hi - lo) * i / 400, y = Math.exp(-0.5 * (z - m) * (z - m) / s2) / Math.sqrt(2 * Math.PI * s2);
        if (i) g.lineTo(X(z), Y(Math.min(y, ymax))); else g.moveTo(X(z), Y(Math.min(y, ymax)));
      }
      g.setLineDash(dash); g.strokeStyle = colour; g.lineWidth = 2.5; g.stroke(); g.setLineDash([]);
      if (fill) { g.lineTo(X(hi), Y(0)); g.lineTo(X(lo), Y(0)); g.closePath(); g.fillStyle = fill; g.fill(); }
    }
    curve(0, 1, COLOURS.p, [6, 4], null);
    curve(v.mu, v.variance, COLOURS.q, [], "rgba(0,114,178,0.12)");
    g.textAlign = "left"; g.font = "12px system-ui, sans-serif";
    g.fillStyle = COLOURS.q; g.fillText("q = N(\u03bc, \u03c3\u00b2)  (solid)", L + 4, T);
    g.fillStyle = COLOURS.p; g.fillText("p = N(0, 1)  (dashed)", L + 4, T + 16);
    // bars of the parts
    var Bc = this.bars, b = Bc.g, max = Math.max(1, r.kl * 1.1), BW = Bc.w - 130;
    b.clearRect(0, 0, Bc.w, Bc.h); b.fillStyle = "#fff"; b.fillRect(0, 0, Bc.w, Bc.h);
    b.font = "12px system-ui, sans-serif"; b.textBaseline = "middle";
    [["mean part \u00bd\u03bc\u00b2", r.mean_term, "#0072B2"], ["variance part", r.variance_term, "#D55E00"], ["KL", r.kl, "#222222"]].forEach(function (row, i) {
      var y = 4 + i * 20;
      b.fillStyle = "#222"; b.textAlign = "left"; b.fillText(row[0], 2, y + 8);
      b.fillStyle = row[2]; b.fillRect(120, y + 1, Math.max(1, row[1] / max * BW), 14);
    });
    this.readout.textContent = "KL(q \u2016 p) = \u00bd\u03bc\u00b2 + \u00bd(\u03c3\u00b2 \u2212 log \u03c3\u00b2 \u2212 1) = " +
      fmt(r.mean_term, 3) + " + " + fmt(r.variance_term, 3) + " = " + fmt(r.kl, 3) + " nats";
    if (user && this.onchange) this.onchange(v);
  };

  // ----------------------------------------------------------------- gradient figure
  function GradientFigure(root, opts) {
    var self = this;
    this.root = root; this.onchange = opts.onchange || null;
    this.seed = opts.seed || 1;
    var app = this.app = el("div", { class: "vae-figure__app" }, root);
    this.plot = canvas(app, 420, 250, "Histograms of the pathwise and score-function gradient estimates");
    var controls = el("div", { class: "vae-figure__controls" }, app);
    var again = function () { self.seed += 1; self.update(true); };
    this.mu = slider(controls, "mu", "\u03bc", -3, 3, 0.05, opts.mu, again);
    this.sigma = slider(controls, "sigma", "\u03c3", 0.1, 3, 0.05, opts.sigma, again);
    this.k = slider(controls, "k", "k", -3, 3, 0.05, opts.k, again);
    this.n = slider(controls, "n", "samples", 20, 5000, 10, opts.n, again);
    var btn = el("button", { type: "button", class: "vae-figure__button" }, controls);
    btn.textContent = "Draw fresh samples";
    btn.addEventListener("click", again);
    this.table = el("table", { class: "vae-figure__table" }, app);
    this.update(false);
  }
  GradientFigure.prototype.values = function () {
    return { mu: parseFloat(this.mu.input.value), sigma: parseFloat(this.sigma.input.value),
             k: parseFloat(this.k.input.value), n: parseInt(this.n.input.value, 10) };
  };
  GradientFigure.prototype.set = function (v) {
    if (v.mu !== undefined) this.mu.input.value = String(v.mu);
    if (v.sigma !== undefined) this.sigma.input.value = String(v.sigma);
    if (v.k !== undefined) this.k.input.value = String(v.k);
    if (v.n !== undefined) this.n.input.value = String(v.n);
    if (v.seed !== undefined) this.seed = v.seed;
    this.update(false);
  };
  GradientFigure.prototype.state = function () {
    var v = this.values();
    return { mu: v.mu, sigma: v.sigma, k: v.k, n: v.n, seed: this.seed, closed: this.closed, pathwise: this.sp, score: this.ss };
  };
  GradientFigure.prototype.update = function (user) {
    var v = this.values(), c = this.closed = closedForms(v.mu, v.sigma, v.k);
    this.mu.out.textContent = fmt(v.mu, 2); this.sigma.out.textContent = fmt(v.sigma, 2);
    this.k.out.textContent = fmt(v.k, 2); this.n.out.textContent = String(v.n);
    var s = gradientSamples(v.mu, v.sigma, v.k, v.n, this.seed);
    var sp = this.sp = stats(s.pathwise), ss = this.ss = stats(s.score);
    // common range: the true gradient +- 4 standard deviations of the noisier estimator
    var half = 4 * Math.sqrt(Math.max(c.var_score, c.var_pathwise)), lo = c.gradient - half, hi = c.gradient + half;
    var bins = 60, P = this.plot, g = P.g, W = P.w, H = P.h, L = 8, R = 8, T = 22, B = 22, panel = (H - T - B) / 2;
    g.clearRect(0, 0, W, H); g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    var X = function (x) { return L + (x - lo) / (hi - lo) * (W - L - R); };
    [["pathwise 2(z \u2212 k)", s.pathwise, COLOURS.pathwise, 0], ["score function (z \u2212 k)\u00b2(z \u2212 \u03bc)/\u03c3\u00b2", s.score, COLOURS.score, 1]].forEach(function (row) {
      var counts = new Array(bins).fill(0), data = row[1], top = T + row[3] * panel;
      for (var i = 0; i < data.length; i++) {
        var b = Math.floor((data[i] - lo) / (hi - lo) * bins);
        if (b >= 0 && b < bins) counts[b]++;
      }
      var cmax = Math.max.apply(null, counts) || 1;
      g.fillStyle = row[2];
      for (var j = 0; j < bins; j++) {
        var h = counts[j] / cmax * (panel - 18);
        g.fillRect(X(lo + j * (hi - lo) / bins) + 0.5, top + panel - h, (W - L - R) / bins - 1, h);
      }
      g.fillStyle = "#222"; g.font = "12px system-ui, sans-serif"; g.textAlign = "left"; g.textBaseline = "top";
      g.fillText(row[0], L + 2, top + 1);
    });
    g.strokeStyle = "#000"; g.lineWidth = 1.5; g.setLineDash([4, 3]);
    g.beginPath(); g.moveTo(X(c.gradient), T); g.lineTo(X(c.gradient), H - B); g.stroke(); g.setLineDash([]);
    g.fillStyle = "#222"; g.textAlign = "center"; g.textBaseline = "top"; g.font = "11px system-ui, sans-serif";
    g.fillText("true gradient 2(\u03bc \u2212 k) = " + fmt(c.gradient, 2) + "  (dashed)", W / 2, 3);
    g.fillText(fmt(lo, 1), X(lo) + 14, H - B + 5); g.fillText(fmt(hi, 1), X(hi) - 14, H - B + 5);
    this.table.innerHTML = "";
    var head = el("tr", {}, this.table);
    ["", "mean", "variance", "closed form"].forEach(function (t) { el("th", { text: t }, head); });
    [["pathwise", sp, c.var_pathwise], ["score function", ss, c.var_score]].forEach(function (row) {
      var tr = el("tr", {}, this.table);
      el("th", { text: row[0] }, tr);
      el("td", { text: fmt(row[1].mean, 3) }, tr);
      el("td", { text: fmt(row[1].variance, 3) }, tr);
      el("td", { text: fmt(row[2], 3) }, tr);
    }, this);
    var cap = el("caption", { text: "n = " + v.n + " fresh samples; the ratio of the closed-form variances is " +
      fmt(c.var_score / c.var_pathwise, 2) }, this.table);
    this.table.insertBefore(cap, this.table.firstChild);
    if (user && this.onchange) this.onchange(v);
  };

  // ------------------------------------------------------------------ start-up
  var api = window.vaeFigures = { version: 1, kl: kl, closedForms: closedForms, gradientSamples: gradientSamples, instances: [], scan: scan };

  function num(root, name, dflt) { var v = parseFloat(root.getAttribute("data-" + name)); return isNaN(v) ? dflt : v; }
  function make(root, kind, opts) {
    root.classList.add("vae-figure");
    var fig = kind === "kl" ? new KLFigure(root, opts) : new GradientFigure(root, opts);
    root.setAttribute("data-vae-figure", "ready");
    api.instances.push(fig);
    return fig;
  }
  function optsFrom(root, kind) {
    return kind === "kl" ? { mu: num(root, "mu", 0.5), variance: num(root, "var", 0.25) }
      : { mu: num(root, "mu", 0.5), sigma: num(root, "sigma", 1), k: num(root, "k", 2), n: num(root, "n", 1000), seed: num(root, "seed", 1) };
  }
  function scan() {
    var roots = document.querySelectorAll(".vae-figure[data-figure]:not([data-vae-figure])");
    for (var i = 0; i < roots.length; i++) {
      var kind = roots[i].getAttribute("data-figure");
      var fb = roots[i].querySelectorAll(".vae-figure__fallback");
      for (var j = 0; j < fb.length; j++) fb[j].hidden = true;
      make(roots[i], kind, optsFrom(roots[i], kind));
    }
  }
  // anywidget entry point: vae_lib.widgets.KLFigure / GradientFigure (trait "figure": "kl" or "gradient").
  api.render = function (ctx) {
    var model = ctx.model, kind = model.get("figure"), opts;
    if (kind === "kl") {
      opts = { mu: model.get("mu"), variance: model.get("var"),
               onchange: function (v) { model.set("mu", v.mu); model.set("var", v.variance); model.save_changes(); } };
    } else {
      opts = { mu: model.get("mu"), sigma: model.get("sigma"), k: model.get("k"), n: model.get("n"), seed: model.get("seed"),
               onchange: function (v) { model.set("mu", v.mu); model.set("sigma", v.sigma); model.set("k", v.k); model.set("n", v.n); model.save_changes(); } };
    }
    var fig = make(ctx.el, kind, opts);
    var sync = function () {
      if (kind === "kl") fig.set(model.get("mu"), model.get("var"));
      else fig.set({ mu: model.get("mu"), sigma: model.get("sigma"), k: model.get("k"), n: model.get("n") });
    };
    model.on("change", sync);
    return function () { model.off("change", sync); };
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan); else scan();
})();

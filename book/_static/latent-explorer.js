/*
 * latent-explorer.js: the 2-D VAE explorer of "Chapter 14: Variational Autoencoders", the whole
 * VAE in the browser: the encoder's region q(z|x) = N(mu, diag sigma^2) of an input the reader
 * picks or draws, samples z = mu + sigma * eps from it, and the decoder anywhere on the map.
 * No dependencies, no build step, no network beyond its own data.
 *
 * One implementation for the site and the notebooks:
 *  - on the site, a classic script that starts every <div class="vae-explorer" data-src="...">
 *    when it nears the viewport (IntersectionObserver), loading the pack (data-src, a .bin file
 *    written by `python -m vae_lib export-explorer`; on file:// pages its .js twin);
 *  - in Jupyter, vae_lib.widgets.LatentExplorer (an anywidget) sends this same file as its ES
 *    module, with `export default {render}` appended, and the pack of the student's model.
 * The pack format is described in vae_lib/course/explorer.py.
 *
 * JavaScript API (for tests and curious readers), once `await window.vaeExplorer.ready`:
 *   vaeExplorer.encode(pixels)  784 values in [0, 1] -> {mu: [m1, m2], logvar: [l1, l2]}
 *   vaeExplorer.decode(z)       [z1, z2] (or z1, z2) -> Float32Array of 784 values in [0, 1]
 *   vaeExplorer.decode(z, d)    the same with the conditional VAE's decoder (lesson 14-8) and digit d
 *                               (after `await vaeExplorer.loadConditional()`, or a digit chosen)
 *   vaeExplorer.instances[i]    each explorer: .state(), .select(k), .setInput(pixels), .sample(eps),
 *                               .setDigit(d) (a promise; null: back to the VAE)
 *   vaeExplorer.timings         [{dataArrived, ready}] (performance.now() milliseconds)
 * encode and decode use the weights the first explorer on the page draws with.
 */
(function () {
  "use strict";

  var HAS_DOM = typeof document !== "undefined";
  var SCRIPT = HAS_DOM ? document.currentScript : null;
  var SCRIPT_URL = (SCRIPT && SCRIPT.src) || (HAS_DOM ? document.baseURI : "");

  if (window.vaeExplorer && window.vaeExplorer.version) {  // loaded twice: the first copy does the work
    if (HAS_DOM && SCRIPT) window.vaeExplorer.scan();
    return;
  }

  var FORMAT = "vae_lib-latent-explorer-v2";
  var SIZE = 420;                 // CSS pixels of the square map (it shrinks on narrow screens)
  var MARGIN = { left: 34, right: 8, top: 8, bottom: 30 };
  var STEP = 0.05;                // arrow-key step in z; Shift: 5 steps
  var STRIP = 9;                  // decoded frames along A -> B
  var PAD = 28;                   // drawing pad, 28 x 28 like MNIST
  var INSET = 120;                // CSS pixels of the zoom inset
  var COARSE = HAS_DOM && window.matchMedia && window.matchMedia("(pointer: coarse)").matches;

  // ------------------------------------------------------------------ data

  var POW2 = new Float64Array(64);
  for (var e = 0; e < 64; e++) POW2[e] = Math.pow(2, e - 25);
  function half(h) { // IEEE 754 binary16 -> number (exact)
    var sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    if (exp === 0) return sign * frac * POW2[1];
    if (exp === 31) return frac ? NaN : sign * Infinity;
    return sign * (1024 + frac) * POW2[exp];
  }

  function parsePack(buffer) {
    var bytes = new Uint8Array(buffer);
    if (bytes[0] !== 86 || bytes[1] !== 65 || bytes[2] !== 69 || bytes[3] !== 88) {
      throw new Error("latent explorer: not a " + FORMAT + " pack");
    }
    var n = new DataView(buffer).getUint32(4, true);
    var header = JSON.parse(new TextDecoder("ascii").decode(bytes.subarray(8, 8 + n)));
    if (header.format !== FORMAT) throw new Error("latent explorer: not a " + FORMAT + " pack");
    var base = 8 + n;
    header.get = function (name) {
      var a = header.arrays[name], raw = buffer.slice(base + a.offset, base + a.offset + a.nbytes);
      if (a.dtype === "float32") return new Float32Array(raw);
      if (a.dtype === "int8") return new Int8Array(raw);
      if (a.dtype === "uint8") return new Uint8Array(raw);
      if (a.dtype === "uint16") return new Uint16Array(raw);
      if (a.dtype === "float16") {
        var u = new Uint16Array(raw), out = new Float32Array(u.length);
        for (var i = 0; i < u.length; i++) out[i] = half(u[i]);
        return out;
      }
      throw new Error("latent explorer: unknown dtype " + a.dtype);
    };
    return header;
  }

  // An MLP: Linear, ReLU, ..., Linear. Weights are kept transposed ([in][out]) so that each
  // nonzero input adds one contiguous row; ReLU zeros are skipped.
  function MLP(header, part) {
    this.layers = header[part].layers.map(function (L) {
      var w = header.get(L.weight), wt = new Float32Array(L.in * L.out), nin = L.in, nout = L.out, o, i;
      var s = L.scales ? header.get(L.scales) : null, G = s ? L.group : nin, ng = Math.ceil(nin / G);
      for (o = 0; o < nout; o++) {
        for (var g = 0; g < ng; g++) { // int8 codes times their group's scale (float32 weights: scale 1)
          var sc = s ? s[o * ng + g] : 1, end = Math.min(nin, (g + 1) * G), row = o * nin;
          for (i = g * G; i < end; i++) wt[i * nout + o] = w[row + i] * sc;
        }
      }
      return { nin: L.in, nout: L.out, wt: wt, b: header.get(L.bias), acc: new Float64Array(L.out) };
    });
    this.nin = this.layers[0].nin;
    this.nout = this.layers[this.layers.length - 1].nout;
    this.input = new Float64Array(this.nin);
  }
  MLP.prototype.run = function (x) { // -> the last layer's accumulator (Float64Array, reused)
    var h = this.input, n = this.layers.length;
    for (var j = 0; j < this.nin; j++) h[j] = x[j];
    for (var l = 0; l < n; l++) {
      var L = this.layers[l], acc = L.acc, nout = L.nout, wt = L.wt, o;
      for (o = 0; o < nout; o++) acc[o] = L.b[o];
      for (var i = 0; i < L.nin; i++) {
        var v = h[i];
        if (v === 0) continue;
        var row = i * nout;
        for (o = 0; o < nout; o++) acc[o] += v * wt[row + o];
      }
      if (l < n - 1) for (o = 0; o < nout; o++) if (acc[o] < 0) acc[o] = 0;
      h = acc;
    }
    return h;
  };

  function Model(header) {
    this.header = header;
    this.decoder = new MLP(header, "decoder");
    this._encoder = null; // built on first use (half of the weights: the map draws without it)
    var first = header.encoder.layers[0];
    if (this.decoder.nin !== 2 || this.decoder.nout !== 784 || first.in !== 784) {
      throw new Error("latent explorer: expected an encoder 784 -> ... and a decoder 2 -> ... -> 784");
    }
    this.vae = header.model.encoder_output === "mu_logvar";
    this.z = header.get(header.points.z);
    this.labels = header.get(header.points.labels);
    this.count = header.points.count;
    var P = header.picks, idx = header.get(P.index), px = header.get(P.pixels);
    this.picks = [];
    for (var k = 0; k < P.count; k++) {
      var img = new Float32Array(784);
      for (var p = 0; p < 392; p++) {
        var b = px[k * 392 + p];
        img[2 * p] = (b >> 4) / P.levels; img[2 * p + 1] = (b & 15) / P.levels;
      }
      this.picks.push({ index: idx[k], image: img, label: this.labels[idx[k]] });
    }
    this.view = header.view;
    this.colours = header.colours;
    // a clickable digit sits at its point of the map (the float model's mu); it is encoded when picked
    var z = this.z;
    this.picks.forEach(function (pk) { pk.code = { mu: [z[2 * pk.index], z[2 * pk.index + 1]] }; });
  }
  Model.prototype.decode = function (z1, z2, out) {
    var h = this.decoder.run([z1, z2]);
    out = out || new Float32Array(784);
    for (var p = 0; p < 784; p++) out[p] = 1 / (1 + Math.exp(-h[p]));
    return out;
  };
  Model.prototype.encode = function (pixels) {
    if (!pixels || pixels.length !== 784) throw new Error("latent explorer: encode needs 784 pixel values in [0, 1]");
    if (!this._encoder) this._encoder = new MLP(this.header, "encoder");
    var h = this._encoder.run(pixels);
    if (!this.vae) return { mu: [h[0], h[1]], logvar: null };
    return { mu: [h[0], h[1]], logvar: [h[2], h[3]] };
  };
  Model.prototype.nearest = function (z1, z2) {
    var best = Infinity, k = -1, z = this.z;
    for (var i = 0; i < this.count; i++) {
      var d1 = z[2 * i] - z1, d2 = z[2 * i + 1] - z2, d = d1 * d1 + d2 * d2;
      if (d < best) { best = d; k = i; }
    }
    return k < 0 ? null : this.labels[k];
  };

  // The decoder of the conditional VAE (a decoder pack): input z then the one-hot digit.
  function ConditionalDecoder(header) {
    this.header = header;
    this.decoder = new MLP(header, "decoder");
    this.classes = header.classes;
    if (this.decoder.nin !== 2 + this.classes || this.decoder.nout !== 784) {
      throw new Error("latent explorer: expected a conditional decoder 2 + " + this.classes + " -> ... -> 784");
    }
    this.x = new Float64Array(this.decoder.nin);
  }
  ConditionalDecoder.prototype.decode = function (z1, z2, label, out) {
    if (!(label >= 0 && label < this.classes && Math.floor(label) === label)) {
      throw new Error("latent explorer: the digit must be an integer 0.." + (this.classes - 1) + ", got " + label);
    }
    var x = this.x;
    for (var j = 0; j < x.length; j++) x[j] = 0;
    x[0] = z1; x[1] = z2; x[2 + label] = 1;
    var h = this.decoder.run(x);
    out = out || new Float32Array(784);
    for (var p = 0; p < 784; p++) out[p] = 1 / (1 + Math.exp(-h[p]));
    return out;
  };

  function fetchPack(url) {
    if (/\.js([?#]|$)/.test(url)) { // the file:// copy: a script registering base64 under its URL
      return new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = url;
        script.onload = function () {
          var b64 = (window.vaeExplorerData || {})[script.src];
          if (!b64) { reject(new Error("latent explorer: " + url + " did not register its data")); return; }
          var bin = atob(b64), out = new Uint8Array(bin.length);
          for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
          resolve(out.buffer);
        };
        script.onerror = function () { reject(new Error("latent explorer: could not load " + url)); };
        document.head.appendChild(script);
      });
    }
    return fetch(url).then(function (r) {
      if (!r.ok) throw new Error("latent explorer: " + url + " answered HTTP " + r.status);
      return r.arrayBuffer();
    });
  }
  var models = {};
  function loadModel(url, timing) {
    if (!models[url]) {
      models[url] = fetchPack(url).then(function (buf) {
        timing.dataArrived = performance.now();
        timing.bytes = buf.byteLength;
        return new Model(parsePack(buf));
      });
    } else {
      models[url].then(function () { if (!timing.dataArrived) timing.dataArrived = performance.now(); });
    }
    return models[url];
  }

  // --------------------------------------------------------------- helpers

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
  function fmt(v, d) { var s = v.toFixed(d === undefined ? 2 : d); return /^-0\.0*$/.test(s) ? s.slice(1) : s; }
  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
  function randn() { // standard normal (Box-Muller)
    var u = 1 - Math.random(), v = Math.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  function putDigit(ctx, pixels, data) {
    var px = data.data;
    for (var i = 0; i < 784; i++) {
      var v = Math.round(255 * (1 - pixels[i]));
      px[4 * i] = v; px[4 * i + 1] = v; px[4 * i + 2] = v; px[4 * i + 3] = 255;
    }
    ctx.putImageData(data, 0, 0);
  }
  var uid = 0;

  // -------------------------------------------------------------- explorer

  function Explorer(root, model) {
    this.root = root;
    this.model = model;
    this.id = "vae-explorer-" + (++uid);
    var v = model.view;
    this.lo1 = v.z1[0]; this.hi1 = v.z1[1]; this.lo2 = v.z2[0]; this.hi2 = v.z2[1];
    this.z = [0, 0];
    this.image = new Float32Array(784);
    this.input = null;      // the pixels being encoded (Float32Array 784) or null
    this.code = null;       // {mu, logvar} of the input
    this.eps = null;        // the last eps of "sample"
    this.samples = [];      // the last samples z drawn from q(z|x)
    this.picked = null;     // index into model.picks of a clicked test digit
    this.mode = "explore";  // or "interpolate"
    this.digitChoice = null; // the chosen digit (conditional VAE) or null (the VAE)
    this.cvae = null;        // the conditional decoder, once loaded
    this.a = null; this.b = null; this.t = 0.5;
    this.engaged = false;   // touch: after a tap on the map, one-finger drags move the point
    this.dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
    this.build();
    this.drawBackground();
    this.update("init");
  }

  Explorer.prototype.build = function () {
    var self = this, id = this.id, m = this.model;
    var app = this.app = el("div", { class: "vae-explorer__app" });
    var main = el("div", { class: "vae-explorer__main" }, app);

    var mapBox = el("div", { class: "vae-explorer__mapbox" }, main);
    var map = this.map = el("canvas", {
      class: "vae-explorer__map", width: String(SIZE * this.dpr), height: String(SIZE * this.dpr),
      tabindex: "0", role: "application", "aria-roledescription": "latent map",
      "aria-label": "Latent map of the 2-D VAE: " + m.count + " test digits as dots coloured by digit " +
        "(the means of q(z|x)), the region mu \u00b1 2 sigma of the input, and the point z that is decoded.",
      "aria-describedby": id + "-help",
    }, mapBox);
    this.ctx = map.getContext("2d");
    var legend = el("ul", { class: "vae-explorer__legend", "aria-label": "Digit colours" }, mapBox);
    for (var d = 0; d < 10; d++) {
      var li = el("li", {}, legend);
      var sw = el("span", { class: "vae-explorer__swatch", "aria-hidden": "true" }, li);
      sw.style.background = m.colours[d];
      el("span", { text: String(d) }, li);
    }

    var side = el("div", { class: "vae-explorer__side" }, main);
    // interpolation controls first, so that on a phone they sit right under the map
    var interp = this.interp = el("div", { class: "vae-explorer__interp", hidden: "" }, side);
    this.interpStatus = el("div", { class: "vae-explorer__status" }, interp);
    var tRow = el("div", { class: "vae-explorer__trow" }, interp);
    el("label", { for: id + "-t", text: "t" }, tRow);
    var range = this.range = el("input", {
      type: "range", id: id + "-t", min: "0", max: "1", step: "0.01", value: "0.5", disabled: "",
      class: "vae-explorer__t", "aria-describedby": id + "-tout",
    }, tRow);
    this.tOut = el("output", { id: id + "-tout", for: id + "-t", text: "0.50" }, tRow);
    range.addEventListener("input", function () { self.setT(parseFloat(range.value)); });
    var strip = this.strip = el("canvas", {
      class: "vae-explorer__strip", width: String(28 * STRIP), height: "34", role: "img", hidden: "",
      "aria-label": "Digits decoded at " + STRIP + " evenly spaced points from A (left) to B (right); the marker shows t",
    }, interp);
    this.stripCtx = strip.getContext("2d");
    this.stripPixels = this.stripCtx.createImageData(28 * STRIP, 28);

    var panels = this.panels = el("div", { class: "vae-explorer__panels" }, side);
    var inBox = el("figure", { class: "vae-explorer__panel vae-explorer__panel--input" }, panels);
    var pad = this.pad = el("canvas", {
      class: "vae-explorer__pad", width: String(PAD), height: String(PAD), tabindex: "0", role: "application",
      "aria-roledescription": "drawing pad",
      "aria-label": "Input digit, 28 by 28 pixels: draw here to encode it. Keyboard: arrow keys move the pen, " +
        "Space toggles the pen down, Delete clears.",
    }, inBox);
    this.padCtx = pad.getContext("2d");
    this.padPixels = this.padCtx.createImageData(PAD, PAD);
    el("figcaption", { text: "input x (draw)" }, inBox);
    var outBox = el("figure", { class: "vae-explorer__panel" }, panels);
    var digit = this.digit = el("canvas", {
      class: "vae-explorer__digit", width: "28", height: "28", role: "img", "aria-labelledby": id + "-digit-caption",
    }, outBox);
    this.digitCtx = digit.getContext("2d");
    this.digitPixels = this.digitCtx.createImageData(28, 28);
    this.digitCaption = el("figcaption", { id: id + "-digit-caption", text: "decoded at z" }, outBox);
    var zoomBox = this.zoomBox = el("figure", { class: "vae-explorer__panel vae-explorer__panel--zoom" }, panels);
    var inset = this.inset = el("canvas", {
      class: "vae-explorer__inset", width: String(INSET * this.dpr), height: String(INSET * this.dpr), role: "img",
      "aria-label": "Magnified view of the region mu \u00b1 2 sigma and the samples drawn from it",
    }, zoomBox);
    this.insetCtx = inset.getContext("2d");
    this.zoomCaption = el("figcaption", { text: "zoom" }, zoomBox);

    this.readout = el("div", { class: "vae-explorer__readout", "aria-hidden": "true" }, side);
    var buttons = el("div", { class: "vae-explorer__buttons" }, side);
    var sampleBtn = this.sampleButton = el("button", { type: "button", class: "vae-explorer__sample", disabled: "" }, buttons);
    sampleBtn.textContent = "Sample z = \u03bc + \u03c3\u00b7\u03b5";
    sampleBtn.addEventListener("click", function () { self.sample(); });
    var clearBtn = el("button", { type: "button", class: "vae-explorer__clear" }, buttons);
    clearBtn.textContent = "Clear input";
    clearBtn.addEventListener("click", function () { self.clearInput(); });
    var toggle = this.toggle = el("button", { type: "button", class: "vae-explorer__toggle", "aria-pressed": "false" }, buttons);
    toggle.textContent = "Interpolate A \u2192 B";
    toggle.addEventListener("click", function () { self.setMode(self.mode === "explore" ? "interpolate" : "explore"); });
    if (this.root._vaeConditional) { // "choose the digit": the conditional VAE of lesson 14-8
      var choose = el("span", { class: "vae-explorer__choose" }, buttons);
      el("label", { for: id + "-digit", text: "Digit" }, choose);
      var sel = this.digitSelect = el("select", {
        id: id + "-digit", class: "vae-explorer__digitsel", "aria-describedby": id + "-help",
      }, choose);
      el("option", { value: "", text: "any (VAE)" }, sel);
      for (var dd = 0; dd < 10; dd++) el("option", { value: String(dd), text: "choose " + dd + " (CVAE)" }, sel);
      sel.addEventListener("change", function () { self.setDigit(sel.value === "" ? null : parseInt(sel.value, 10)); });
    }

    this.help = el("p", { class: "vae-explorer__help", id: id + "-help" }, app);
    this.help.textContent = COARSE
      ? "Tap a dot to encode that test digit, or draw a digit with your finger in the input box: the ring on the map is " +
        "its region \u03bc \u00b1 2\u03c3 (magnified in the zoom box). Drag the marker to decode any point; a tap on the map " +
        "also lets you drag from anywhere on it until you tap outside. Swipe elsewhere to scroll."
      : "Click a dot to encode that test digit, or draw a digit with the mouse in the input box: the ring on the map is " +
        "its region \u03bc \u00b1 2\u03c3 (magnified in the zoom box). Drag the marker, or focus the map and use the arrow keys " +
        "(Shift: bigger steps), to decode any point. Keyboard drawing: focus the input box, arrow keys move the pen, Space puts it down. " +
        "Curious? In the browser console, vaeExplorer.encode(pixels) and vaeExplorer.decode([z1, z2]) run the same networks.";
    if (this.digitSelect) {
      this.help.textContent += " Digit: choose one to decode z with the conditional VAE of lesson 14-8, which is told the digit, " +
        "so that z sets only its style (slant, thickness, width); \u201cany (VAE)\u201d goes back.";
    }
    this.live = el("div", { class: "vae-explorer__live", "aria-live": "polite", role: "status" }, app);

    this.bindMap();
    this.bindPad();
    window.addEventListener("resize", function () {
      var dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
      if (dpr !== self.dpr) {
        self.dpr = dpr;
        map.width = map.height = SIZE * dpr;
        inset.width = inset.height = INSET * dpr;
        self.drawBackground();
        self.draw();
      }
    });
  };

  Explorer.prototype.bindMap = function () {
    var self = this, map = this.map, drag = null;
    function cssPoint(ev) {
      var r = map.getBoundingClientRect();
      return [(ev.clientX - r.left) / r.width * SIZE, (ev.clientY - r.top) / r.height * SIZE];
    }
    function nearMarker(p, reach) { var q = self.px(self.z[0], self.z[1]); return Math.hypot(p[0] - q[0], p[1] - q[1]) <= reach; }
    // Touch: the map lets the browser pan vertically (touch-action: pan-y in the CSS), so a swipe
    // scrolls the page. Only a touch that starts on the marker, or any touch once the reader has
    // tapped the map (engaged), is kept for the explorer.
    map.addEventListener("touchstart", function (ev) {
      if (ev.touches.length !== 1) return;
      var r = map.getBoundingClientRect(), t = ev.touches[0];
      var p = [(t.clientX - r.left) / r.width * SIZE, (t.clientY - r.top) / r.height * SIZE];
      if (self.engaged || nearMarker(p, 26)) ev.preventDefault();
    }, { passive: false });
    map.addEventListener("pointerdown", function (ev) {
      if (ev.button !== undefined && ev.button !== 0) return;
      var p = cssPoint(ev), touch = ev.pointerType === "touch";
      var onMarker = nearMarker(p, touch ? 26 : 12);
      drag = { id: ev.pointerId, start: p, moved: false, active: !touch || onMarker || self.engaged, onMarker: onMarker };
      if (!touch) { ev.preventDefault(); map.focus({ preventScroll: true }); }
      if (drag.active) { try { map.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic events */ } }
    });
    map.addEventListener("pointermove", function (ev) {
      if (!drag || drag.id !== ev.pointerId) return;
      var p = cssPoint(ev);
      if (Math.hypot(p[0] - drag.start[0], p[1] - drag.start[1]) > 4) drag.moved = true;
      if (drag.active && drag.moved && self.mode === "explore") { var z = self.cssToZ(p); self.setZ(z[0], z[1], "drag"); }
    });
    map.addEventListener("pointerup", function (ev) {
      if (!drag || drag.id !== ev.pointerId) return;
      var d = drag; drag = null;
      var p = cssPoint(ev), z = self.cssToZ(p);
      if (!d.moved) { // a click or tap
        if (ev.pointerType === "touch") { self.engaged = true; self.root.classList.add("vae-explorer--engaged"); map.focus({ preventScroll: true }); }
        if (self.mode === "interpolate") { self.place(z); return; }
        var k = d.onMarker || self.conditional() ? -1 : self.pickAt(p);
        if (k >= 0) self.select(k);
        else self.setZ(z[0], z[1], "click");
      } else if (d.active) {
        self.announce();
      }
    });
    map.addEventListener("pointercancel", function () { drag = null; }); // the browser took the touch: a scroll
    map.addEventListener("keydown", function (ev) { self.onKey(ev); });
    // leaving the explorer ends the engaged state
    document.addEventListener("pointerdown", function (ev) {
      if (self.engaged && !self.root.contains(ev.target)) { self.engaged = false; self.root.classList.remove("vae-explorer--engaged"); }
    }, true);
  };

  Explorer.prototype.pickAt = function (p) { // nearest clickable test digit within reach of CSS point p, or -1
    var best = COARSE ? 16 : 9, k = -1;
    for (var i = 0; i < this.model.picks.length; i++) {
      var c = this.model.picks[i].code.mu, q = this.px(c[0], c[1]), d = Math.hypot(p[0] - q[0], p[1] - q[1]);
      if (d < best) { best = d; k = i; }
    }
    return k;
  };

  Explorer.prototype.bindPad = function () {
    var self = this, pad = this.pad, last = null, pen = [14, 14], penDown = false, frame = 0;
    function schedule() {
      if (frame) return;
      frame = requestAnimationFrame(function () { frame = 0; self.encodeInput("draw"); });
    }
    function point(ev) { var r = pad.getBoundingClientRect(); return [(ev.clientX - r.left) / r.width * PAD, (ev.clientY - r.top) / r.height * PAD]; }
    pad.addEventListener("pointerdown", function (ev) {
      if (ev.button !== undefined && ev.button !== 0) return;
      ev.preventDefault();
      try { pad.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic */ }
      if (!self.input || self.picked !== null) self.startDrawing();
      last = point(ev); self.stroke(last, last); schedule();
    });
    pad.addEventListener("pointermove", function (ev) {
      if (!last) return;
      var p = point(ev); self.stroke(last, p); last = p; schedule();
    });
    function end() { if (last) { last = null; self.announce("Input encoded."); } }
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    pad.addEventListener("keydown", function (ev) {
      var moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      if (ev.key === " " || ev.key === "Enter") {
        ev.preventDefault(); penDown = !penDown;
        if (penDown) { if (!self.input || self.picked !== null) self.startDrawing(); self.stroke([pen[0] + 0.5, pen[1] + 0.5], [pen[0] + 0.5, pen[1] + 0.5]); self.encodeInput("key"); }
        self.drawPad(pen);
        return;
      }
      if (ev.key === "Delete" || ev.key === "Backspace") { ev.preventDefault(); self.clearInput(); return; }
      var mv = moves[ev.key];
      if (!mv) return;
      ev.preventDefault();
      var from = [pen[0] + 0.5, pen[1] + 0.5];
      pen = [clamp(pen[0] + mv[0], 0, PAD - 1), clamp(pen[1] + mv[1], 0, PAD - 1)];
      if (penDown) { self.stroke(from, [pen[0] + 0.5, pen[1] + 0.5]); self.encodeInput("key"); }
      self.drawPad(pen);
    });
    pad.addEventListener("blur", function () { penDown = false; self.drawPad(null); });
  };

  Explorer.prototype.startDrawing = function () {
    this.input = new Float32Array(784);
    this.picked = null;
  };

  // Ink along the segment a -> b (pad pixels), a soft pen about 2.5 pixels wide like MNIST's strokes.
  Explorer.prototype.stroke = function (a, b) {
    var img = this.input, n = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) * 3));
    for (var s = 0; s <= n; s++) {
      var x = a[0] + (b[0] - a[0]) * s / n, y = a[1] + (b[1] - a[1]) * s / n;
      for (var r = Math.floor(y - 2); r <= Math.ceil(y + 2); r++) {
        for (var c = Math.floor(x - 2); c <= Math.ceil(x + 2); c++) {
          if (r < 0 || r >= PAD || c < 0 || c >= PAD) continue;
          var d = Math.hypot(c + 0.5 - x, r + 0.5 - y), v = clamp(1.6 - d / 1.1, 0, 1);
          if (v > img[r * PAD + c]) img[r * PAD + c] = v;
        }
      }
    }
  };

  Explorer.prototype.encodeInput = function (why) {
    if (!this.input) return;
    if (this.digitChoice !== null) this.setDigit(null); // encoding is the VAE's: back to "any digit"
    this.code = this.model.encode(this.input);
    this.eps = null;
    this.samples = [];
    this.z = [clamp(this.code.mu[0], this.lo1, this.hi1), clamp(this.code.mu[1], this.lo2, this.hi2)];
    this.update(why);
  };

  Explorer.prototype.setInput = function (pixels) {
    this.input = new Float32Array(pixels);
    this.picked = null;
    this.encodeInput("set");
  };

  Explorer.prototype.select = function (k) {
    var pk = this.model.picks[k];
    this.input = new Float32Array(pk.image);
    this.picked = k;
    this.encodeInput("select");
    this.announce("Test digit " + (pk.label < 10 ? pk.label : "") + " encoded.");
  };

  Explorer.prototype.clearInput = function () {
    this.input = null; this.code = null; this.eps = null; this.samples = []; this.picked = null;
    this.update("clear");
  };

  Explorer.prototype.sigma = function () {
    return this.code && this.code.logvar ? [Math.exp(0.5 * this.code.logvar[0]), Math.exp(0.5 * this.code.logvar[1])] : null;
  };

  Explorer.prototype.sample = function (eps) {
    var s = this.sigma();
    if (!s) return null;
    this.eps = eps ? [eps[0], eps[1]] : [randn(), randn()];
    var mu = this.code.mu, z = [mu[0] + s[0] * this.eps[0], mu[1] + s[1] * this.eps[1]];
    this.samples.push(z);
    if (this.samples.length > 30) this.samples.shift();
    this.z = [clamp(z[0], this.lo1, this.hi1), clamp(z[1], this.lo2, this.hi2)];
    this.update("sample");
    return z;
  };

  // z <-> CSS pixel coordinates inside the SIZE x SIZE map.
  Explorer.prototype.scale = function () { return (SIZE - MARGIN.left - MARGIN.right) / (this.hi1 - this.lo1); };
  Explorer.prototype.px = function (z1, z2) {
    var w = SIZE - MARGIN.left - MARGIN.right, h = SIZE - MARGIN.top - MARGIN.bottom;
    return [MARGIN.left + (z1 - this.lo1) / (this.hi1 - this.lo1) * w, MARGIN.top + (this.hi2 - z2) / (this.hi2 - this.lo2) * h];
  };
  Explorer.prototype.cssToZ = function (p) {
    var w = SIZE - MARGIN.left - MARGIN.right, h = SIZE - MARGIN.top - MARGIN.bottom;
    var z1 = this.lo1 + (p[0] - MARGIN.left) / w * (this.hi1 - this.lo1);
    var z2 = this.hi2 - (p[1] - MARGIN.top) / h * (this.hi2 - this.lo2);
    return [clamp(z1, this.lo1, this.hi1), clamp(z2, this.lo2, this.hi2)];
  };

  // Cluster labels: at each digit's median, pushed apart until no two overlap (nor the start marker).
  Explorer.prototype.labelPositions = function () {
    var m = this.model, self = this, groups = [];
    for (var d = 0; d < 10; d++) groups.push([]);
    for (var i = 0; i < m.count; i++) if (m.labels[i] < 10) groups[m.labels[i]].push([m.z[2 * i], m.z[2 * i + 1]]);
    var pos = [];
    groups.forEach(function (pts, digit) {
      if (!pts.length) return;
      var med = [0, 1].map(function (j) {
        var a = pts.map(function (q) { return q[j]; }).sort(function (u, v) { return u - v; });
        return a[Math.floor(a.length / 2)];
      });
      pos.push({ digit: digit, p: self.px(med[0], med[1]) });
    });
    var start = this.px(0, 0), R = 22;
    for (var it = 0; it < 200; it++) {
      var moved = false;
      for (var a = 0; a < pos.length; a++) {
        var pa = pos[a].p;
        var ds = Math.hypot(pa[0] - start[0], pa[1] - start[1]);
        if (ds < R) { var f = (R - ds) / (ds || 1); pa[0] += (pa[0] - start[0] || 1) * f; pa[1] += (pa[1] - start[1]) * f; moved = true; }
        for (var b = a + 1; b < pos.length; b++) {
          var pb = pos[b].p, dx = pb[0] - pa[0], dy = pb[1] - pa[1], dd = Math.hypot(dx, dy);
          if (dd < R) {
            var push = (R - dd) / 2 / (dd || 1);
            if (!dd) { dx = 1; dy = 0; push = R / 2; }
            pa[0] -= dx * push; pa[1] -= dy * push; pb[0] += dx * push; pb[1] += dy * push; moved = true;
          }
        }
      }
      if (!moved) break;
    }
    return pos;
  };

  Explorer.prototype.drawBackground = function () {
    var c = this.bg = document.createElement("canvas");
    c.width = SIZE * this.dpr; c.height = SIZE * this.dpr;
    var g = c.getContext("2d"), m = this.model;
    g.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    g.fillStyle = "#ffffff"; g.fillRect(0, 0, SIZE, SIZE);
    var p0 = this.px(this.lo1, this.hi2), p1 = this.px(this.hi1, this.lo2), k;
    g.font = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
    g.fillStyle = "#333"; g.lineWidth = 1;
    for (k = Math.ceil(this.lo1); k <= this.hi1; k++) {
      var x = this.px(k, 0)[0];
      g.strokeStyle = k === 0 ? "#bbbbbb" : "#eeeeee";
      g.beginPath(); g.moveTo(x, p0[1]); g.lineTo(x, p1[1]); g.stroke();
      g.textAlign = "center"; g.textBaseline = "top"; g.fillText(String(k), x, p1[1] + 4);
    }
    for (k = Math.ceil(this.lo2); k <= this.hi2; k++) {
      var y = this.px(0, k)[1];
      g.strokeStyle = k === 0 ? "#bbbbbb" : "#eeeeee";
      g.beginPath(); g.moveTo(p0[0], y); g.lineTo(p1[0], y); g.stroke();
      g.textAlign = "right"; g.textBaseline = "middle"; g.fillText(String(k), p0[0] - 5, y);
    }
    g.strokeStyle = "#888888"; g.strokeRect(p0[0], p0[1], p1[0] - p0[0], p1[1] - p0[1]);
    g.font = "italic 13px Georgia, 'Times New Roman', serif";
    g.textAlign = "center"; g.textBaseline = "bottom";
    g.fillText("z\u2081", (p0[0] + p1[0]) / 2, SIZE - 1);
    g.save(); g.translate(10, (p0[1] + p1[1]) / 2); g.rotate(-Math.PI / 2); g.textBaseline = "middle"; g.fillText("z\u2082", 0, 0); g.restore();
    g.save();
    g.beginPath(); g.rect(p0[0], p0[1], p1[0] - p0[0], p1[1] - p0[1]); g.clip();
    this.labels = this.labelPositions();
    if (this.conditional()) { // the style space: the VAE's clusters mean nothing here; the prior's rings
      var o = this.px(0, 0), sc = this.scale();
      g.strokeStyle = "#6b6b6b"; g.lineWidth = 1; g.setLineDash([4, 4]);
      for (var r = 1; r <= 3; r++) { g.beginPath(); g.arc(o[0], o[1], r * sc, 0, 2 * Math.PI); g.stroke(); }
      g.setLineDash([]);
      g.font = "12px system-ui, -apple-system, 'Segoe UI', sans-serif"; g.fillStyle = "#333";
      g.textAlign = "left"; g.textBaseline = "top";
      g.fillText("style z of digit " + this.digitChoice + " (rings: 1, 2, 3 \u03c3 of the prior)", p0[0] + 6, p0[1] + 6);
      g.restore();
      return;
    }
    for (var i = 0; i < m.count; i++) { // full opacity: every class colour has >= 3:1 contrast on white
      var lab = m.labels[i], p = this.px(m.z[2 * i], m.z[2 * i + 1]);
      g.fillStyle = lab < 10 ? m.colours[lab] : "#595959";
      g.beginPath(); g.arc(p[0], p[1], 1.6, 0, 2 * Math.PI); g.fill();
    }
    // the clickable test digits: ringed dots
    m.picks.forEach(function (pk) {
      var q = this.px(pk.code.mu[0], pk.code.mu[1]);
      g.fillStyle = pk.label < 10 ? m.colours[pk.label] : "#595959";
      g.strokeStyle = "#000000"; g.lineWidth = 1;
      g.beginPath(); g.arc(q[0], q[1], 3.2, 0, 2 * Math.PI); g.fill(); g.stroke();
    }, this);
    g.font = "bold 13px system-ui, -apple-system, 'Segoe UI', sans-serif";
    g.textAlign = "center"; g.textBaseline = "middle";
    this.labels.forEach(function (L) {
      g.fillStyle = "rgba(255,255,255,0.9)"; g.strokeStyle = m.colours[L.digit]; g.lineWidth = 2.5;
      g.beginPath(); g.arc(L.p[0], L.p[1], 9, 0, 2 * Math.PI); g.fill(); g.stroke();
      g.fillStyle = "#000"; g.fillText(String(L.digit), L.p[0], L.p[1] + 0.5);
    });
    g.restore();
  };

  function marker(g, p, radius, fill) {
    g.lineWidth = 4; g.strokeStyle = "#ffffff";
    g.beginPath(); g.arc(p[0], p[1], radius, 0, 2 * Math.PI); g.stroke();
    g.lineWidth = 2; g.strokeStyle = "#000000";
    g.beginPath(); g.arc(p[0], p[1], radius, 0, 2 * Math.PI); g.stroke();
    if (fill) { g.fillStyle = fill; g.fill(); }
  }

  Explorer.prototype.zoom = function () { // magnification of the inset: 2 sigma fills about a third of it
    var s = this.sigma();
    if (!s) return 1;
    var span = 2 * Math.max(s[0], s[1]) * this.scale(); // CSS pixels of 2 sigma on the map
    return Math.max(1, Math.min(400, Math.round(0.3 * INSET / span)));
  };

  Explorer.prototype.draw = function () {
    var g = this.ctx, self = this;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(this.bg, 0, 0);
    g.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    if (this.mode === "interpolate") {
      var pa = this.a && this.px(this.a[0], this.a[1]), pb = this.b && this.px(this.b[0], this.b[1]);
      if (pa && pb) {
        g.lineWidth = 4; g.strokeStyle = "#ffffff";
        g.beginPath(); g.moveTo(pa[0], pa[1]); g.lineTo(pb[0], pb[1]); g.stroke();
        g.lineWidth = 2; g.strokeStyle = "#000000"; g.setLineDash([6, 4]);
        g.beginPath(); g.moveTo(pa[0], pa[1]); g.lineTo(pb[0], pb[1]); g.stroke();
        g.setLineDash([]);
      }
      g.font = "bold 13px system-ui, -apple-system, 'Segoe UI', sans-serif";
      g.textAlign = "left"; g.textBaseline = "bottom";
      [[pa, "A"], [pb, "B"]].forEach(function (item) {
        if (!item[0]) return;
        marker(g, item[0], 5, "#ffffff");
        g.lineWidth = 3; g.strokeStyle = "#ffffff"; g.strokeText(item[1], item[0][0] + 7, item[0][1] - 4);
        g.fillStyle = "#000000"; g.fillText(item[1], item[0][0] + 7, item[0][1] - 4);
      });
    }
    var s = this.sigma();
    if (this.code && this.mode === "explore") {
      var c = this.px(this.code.mu[0], this.code.mu[1]), sc = this.scale();
      if (s) {
        var rx = Math.max(2 * s[0] * sc, 1), ry = Math.max(2 * s[1] * sc, 1);
        g.fillStyle = "rgba(213,94,0,0.35)"; g.strokeStyle = "#000000"; g.lineWidth = 1.5;
        g.beginPath(); g.ellipse(c[0], c[1], rx, ry, 0, 0, 2 * Math.PI); g.fill(); g.stroke();
        // the inset's field of view, and a ring so that the tiny region can be found
        var half = INSET / 2 / this.zoom();
        g.strokeStyle = "#D55E00"; g.lineWidth = 2;
        g.strokeRect(c[0] - half, c[1] - half, 2 * half, 2 * half);
        g.beginPath(); g.arc(c[0], c[1], 13, 0, 2 * Math.PI); g.stroke();
      } else {
        marker(g, c, 5, "#D55E00");
      }
    }
    var p = this.px(this.z[0], this.z[1]);
    marker(g, p, 8, null);
    g.fillStyle = "#000000"; g.beginPath(); g.arc(p[0], p[1], 2, 0, 2 * Math.PI); g.fill();
    putDigit(this.digitCtx, this.image, this.digitPixels);
    this.digit.setAttribute("aria-label", "Decoded digit at z = (" + fmt(this.z[0]) + ", " + fmt(this.z[1]) + ")");
    this.drawPad(null);
    this.drawInset();
    if (this.strip && !this.strip.hidden) this.drawStripMarker();
    void self;
  };

  Explorer.prototype.drawPad = function (pen) {
    putDigit(this.padCtx, this.input || new Float32Array(784), this.padPixels);
    if (pen) { this.padCtx.strokeStyle = "#D55E00"; this.padCtx.lineWidth = 0.4; this.padCtx.strokeRect(pen[0] + 0.2, pen[1] + 0.2, 0.6, 0.6); }
  };

  Explorer.prototype.drawInset = function () {
    var g = this.insetCtx, dpr = this.dpr, s = this.sigma();
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#ffffff"; g.fillRect(0, 0, INSET, INSET);
    g.strokeStyle = "#888"; g.lineWidth = 1; g.strokeRect(0.5, 0.5, INSET - 1, INSET - 1);
    if (!s || this.mode !== "explore") {
      g.fillStyle = "#444"; g.font = "12px system-ui, sans-serif"; g.textAlign = "center"; g.textBaseline = "middle";
      g.fillText(this.mode === "explore" ? "pick or draw" : "", INSET / 2, INSET / 2 - 8);
      g.fillText(this.mode === "explore" ? "an input" : "", INSET / 2, INSET / 2 + 8);
      this.zoomCaption.textContent = "zoom on q(z|x)";
      return;
    }
    var zoom = this.zoom(), k = this.scale() * zoom, mu = this.code.mu, m = this.model;
    var toIn = function (z1, z2) { return [INSET / 2 + (z1 - mu[0]) * k, INSET / 2 - (z2 - mu[1]) * k]; };
    for (var i = 0; i < m.count; i++) { // the test digits' means that fall inside the inset
      var q = toIn(m.z[2 * i], m.z[2 * i + 1]);
      if (q[0] < -4 || q[0] > INSET + 4 || q[1] < -4 || q[1] > INSET + 4) continue;
      g.fillStyle = m.labels[i] < 10 ? m.colours[m.labels[i]] : "#595959";
      g.beginPath(); g.arc(q[0], q[1], 2.5, 0, 2 * Math.PI); g.fill();
    }
    [2, 1].forEach(function (n) {
      g.fillStyle = n === 2 ? "rgba(213,94,0,0.18)" : "rgba(213,94,0,0.3)"; g.strokeStyle = "#000"; g.lineWidth = 1;
      g.beginPath(); g.ellipse(INSET / 2, INSET / 2, n * s[0] * k, n * s[1] * k, 0, 0, 2 * Math.PI); g.fill(); g.stroke();
    });
    g.strokeStyle = "#000"; g.lineWidth = 1.5;
    this.samples.forEach(function (z) {
      var q = toIn(z[0], z[1]);
      g.beginPath(); g.moveTo(q[0] - 3, q[1] - 3); g.lineTo(q[0] + 3, q[1] + 3); g.moveTo(q[0] + 3, q[1] - 3); g.lineTo(q[0] - 3, q[1] + 3); g.stroke();
    });
    g.fillStyle = "#000"; g.beginPath(); g.arc(INSET / 2, INSET / 2, 2, 0, 2 * Math.PI); g.fill();
    var zq = toIn(this.z[0], this.z[1]);
    marker(g, zq, 6, null);
    g.font = "11px system-ui, sans-serif"; g.textAlign = "left"; g.textBaseline = "top"; g.fillStyle = "#000";
    g.fillText("\u00d7" + zoom, 4, 3);
    this.zoomCaption.textContent = "q(z|x), zoom \u00d7" + zoom;
  };

  // The current state in words.
  Explorer.prototype.parts = function () {
    var near = this.model.nearest(this.z[0], this.z[1]);
    var out = ["z = (" + fmt(this.z[0]) + ", " + fmt(this.z[1]) + ")"];
    if (this.conditional()) {
      out.push("digit " + this.digitChoice + " chosen (conditional VAE: z is the style)");
      if (this.mode === "interpolate" && this.a && this.b) out.push("t = " + fmt(this.t));
      return out;
    }
    if (this.mode === "interpolate" && this.a && this.b) out.push("t = " + fmt(this.t));
    if (this.mode === "explore" && this.code) {
      var s = this.sigma();
      out.push("\u03bc = (" + fmt(this.code.mu[0]) + ", " + fmt(this.code.mu[1]) + ")");
      if (s) out.push("\u03c3 = (" + fmt(s[0], 3) + ", " + fmt(s[1], 3) + ")");
      if (this.eps) out.push("\u03b5 = (" + fmt(this.eps[0]) + ", " + fmt(this.eps[1]) + ")");
    }
    if (near !== null && near < 10) out.push("nearest test digit: " + near);
    return out;
  };
  Explorer.prototype.description = function () { return this.parts().join("; "); };
  Explorer.prototype.announce = function (extra) { this.live.textContent = (extra ? extra + " " : "") + this.description() + "."; };

  Explorer.prototype.decodeAt = function (z1, z2, out) {
    if (this.digitChoice !== null && this.cvae) return this.cvae.decode(z1, z2, this.digitChoice, out);
    return this.model.decode(z1, z2, out);
  };
  Explorer.prototype.conditional = function () { return this.digitChoice !== null && !!this.cvae; };

  // Choose the digit (0..9: the conditional VAE's decoder, loaded on first use) or null (the VAE).
  Explorer.prototype.setDigit = function (d) {
    var self = this;
    if (d !== null && !(d >= 0 && d < 10 && Math.floor(d) === d)) return Promise.reject(new Error("latent explorer: the digit must be 0..9 or null"));
    this.pendingDigit = d;
    if (this.digitSelect) this.digitSelect.value = d === null ? "" : String(d);
    if (d === null) { this.applyDigit(null); return Promise.resolve(this); }
    if (!this.cvae) this.live.textContent = "Loading the conditional VAE's decoder\u2026";
    return api.loadConditional(this.root).then(function (cvae) {
      self.cvae = cvae;
      if (self.pendingDigit === d) self.applyDigit(d);
      return self;
    }, function (err) {
      console.error(err);
      self.live.textContent = "The conditional VAE's decoder could not load.";
      if (self.digitSelect) self.digitSelect.value = "";
      self.pendingDigit = null;
      throw err;
    });
  };
  Explorer.prototype.applyDigit = function (d) {
    var was = this.digitChoice;
    this.digitChoice = d;
    if (d !== null && was === null) { this.input = null; this.code = null; this.eps = null; this.samples = []; this.picked = null; }
    this.root.classList.toggle("vae-explorer--conditional", d !== null);
    this.drawBackground();
    if (this.strip && !this.strip.hidden && this.a && this.b) this.drawStrip();
    this.update("digit");
    this.live.textContent = (d === null ? "Any digit: the VAE decodes z. " : "Digit " + d + " chosen: z sets its style. ") + this.description() + ".";
  };

  Explorer.prototype.update = function (why) {
    this.decodeAt(this.z[0], this.z[1], this.image);
    var caption = this.conditional() ? "digit " + this.digitChoice + " decoded at z" : "decoded at z";
    if (this.code && this.mode === "explore") {
      var atMu = this.z[0] === this.code.mu[0] && this.z[1] === this.code.mu[1];
      caption = this.eps ? "decoded sample z" : atMu ? "reconstruction (z = \u03bc)" : "decoded at z";
    }
    this.digitCaption.textContent = caption;
    this.sampleButton.disabled = !this.sigma() || this.mode !== "explore";
    this.draw();
    this.readout.textContent = this.parts().join(this.mode === "interpolate" ? "; " : "\n");
    if (why !== "drag" && why !== "init" && why !== "draw") this.announce();
  };

  Explorer.prototype.setZ = function (z1, z2, why) {
    this.z = [clamp(z1, this.lo1, this.hi1), clamp(z2, this.lo2, this.hi2)];
    this.eps = null;
    this.update(why || "set");
  };

  Explorer.prototype.onKey = function (ev) {
    var step = STEP * (ev.shiftKey ? 5 : 1), dz = null;
    switch (ev.key) {
      case "ArrowLeft": dz = [-step, 0]; break;
      case "ArrowRight": dz = [step, 0]; break;
      case "ArrowUp": dz = [0, step]; break;
      case "ArrowDown": dz = [0, -step]; break;
      case "Home": ev.preventDefault(); this.setZ(0, 0, "key"); return;
      case "Enter": case " ":
        if (this.mode === "interpolate") { ev.preventDefault(); this.place(this.z.slice()); }
        return;
      default: return;
    }
    ev.preventDefault();
    var z1 = Math.round((this.z[0] + dz[0]) / STEP) * STEP, z2 = Math.round((this.z[1] + dz[1]) / STEP) * STEP;
    this.setZ(z1, z2, "key");
  };

  Explorer.prototype.setMode = function (mode) {
    this.mode = mode;
    var on = mode === "interpolate";
    this.toggle.setAttribute("aria-pressed", on ? "true" : "false");
    this.toggle.textContent = on ? "Back to free exploring" : "Interpolate A \u2192 B";
    this.interp.hidden = !on;
    this.root.classList.toggle("vae-explorer--interpolating", on);
    this.a = null; this.b = null;
    this.range.disabled = true;
    this.strip.hidden = true;
    this.interpStatus.textContent = (COARSE ? "Tap" : "Click") + " the map (or press Enter on it) to place A.";
    this.update("mode"); // redraws and rewrites the readout (no stale t)
    this.live.textContent = on ? "Interpolation mode. " + (COARSE ? "Tap the map" : "Click the map, or move with the arrow keys and press Enter,") + " to place A."
      : "Free exploration. " + this.description() + ".";
  };

  Explorer.prototype.place = function (z) {
    if (!this.a || this.b) {
      this.a = z; this.b = null;
      this.range.disabled = true;
      this.strip.hidden = true;
      this.interpStatus.textContent = "A = (" + fmt(z[0]) + ", " + fmt(z[1]) + "). Now place B.";
      this.z = z.slice();
      this.update("drag");
      this.live.textContent = "A placed at (" + fmt(z[0]) + ", " + fmt(z[1]) + "). Now place B.";
      return;
    }
    this.b = z;
    this.range.disabled = false;
    this.interpStatus.textContent = "A = (" + fmt(this.a[0]) + ", " + fmt(this.a[1]) + "), B = (" + fmt(z[0]) + ", " + fmt(z[1]) +
      "). Move t; " + (COARSE ? "tap" : "click") + " again to start over.";
    this.strip.hidden = false;
    this.drawStrip();
    this.setT(parseFloat(this.range.value), "B placed at (" + fmt(z[0]) + ", " + fmt(z[1]) + ").");
  };

  Explorer.prototype.setT = function (t, extra) {
    if (!this.a || !this.b) return;
    this.t = clamp(t, 0, 1);
    this.tOut.textContent = fmt(this.t);
    this.z = [this.a[0] + this.t * (this.b[0] - this.a[0]), this.a[1] + this.t * (this.b[1] - this.a[1])];
    this.update("drag");
    this.announce(extra);
  };

  Explorer.prototype.drawStrip = function () {
    var px = this.stripPixels.data, buf = new Float32Array(784), W = 28 * STRIP;
    for (var f = 0; f < STRIP; f++) {
      var t = f / (STRIP - 1);
      this.decodeAt(this.a[0] + t * (this.b[0] - this.a[0]), this.a[1] + t * (this.b[1] - this.a[1]), buf);
      for (var r = 0; r < 28; r++) {
        for (var c = 0; c < 28; c++) {
          var v = Math.round(255 * (1 - buf[r * 28 + c])), k = 4 * (r * W + f * 28 + c);
          px[k] = v; px[k + 1] = v; px[k + 2] = v; px[k + 3] = 255;
        }
      }
    }
    this.drawStripMarker();
  };

  // The strip with a marker at the current t: a triangle under the strip and a frame around the
  // decoded frame nearest to t.
  Explorer.prototype.drawStripMarker = function () {
    var g = this.stripCtx, W = 28 * STRIP;
    g.putImageData(this.stripPixels, 0, 0);
    g.fillStyle = "#ffffff"; g.fillRect(0, 28, W, 6);
    var f = Math.round(this.t * (STRIP - 1));
    g.strokeStyle = "#D55E00"; g.lineWidth = 1.5; g.strokeRect(f * 28 + 0.75, 0.75, 26.5, 26.5);
    var x = 14 + this.t * (W - 28);
    g.fillStyle = "#000000";
    g.beginPath(); g.moveTo(x, 28); g.lineTo(x - 4, 34); g.lineTo(x + 4, 34); g.closePath(); g.fill();
  };

  Explorer.prototype.state = function () {
    return {
      z: this.z.slice(), image: new Float32Array(this.image), mode: this.mode, a: this.a && this.a.slice(),
      b: this.b && this.b.slice(), t: this.t, live: this.live.textContent, readout: this.readout.textContent,
      mu: this.code && this.code.mu.slice(), logvar: this.code && this.code.logvar && this.code.logvar.slice(),
      sigma: this.sigma(), eps: this.eps && this.eps.slice(), input: this.input && Array.from(this.input),
      picked: this.picked, samples: this.samples.map(function (z) { return z.slice(); }), zoom: this.zoom(),
      engaged: this.engaged, digit: this.conditional() ? this.digitChoice : null, labels: this.labels.map(function (L) { return { digit: L.digit, p: L.p.slice() }; }),
    };
  };

  // ------------------------------------------------------------ start-up

  var api = window.vaeExplorer = {
    version: 2, format: FORMAT, instances: [], timings: [], coarsePointer: COARSE,
    encode: function () { throw new Error("latent explorer: not loaded yet (await vaeExplorer.ready)"); },
    decode: function () { throw new Error("latent explorer: not loaded yet (await vaeExplorer.ready)"); },
    ready: null, scan: scan, mount: mount, parsePack: parsePack, Model: Model, ConditionalDecoder: ConditionalDecoder,
    conditionalURL: null,
  };
  var conditionals = {};
  // The conditional VAE's decoder (cvae-2d.bin next to the explorer's pack), fetched on first use.
  api.loadConditional = function (root) {
    var url = (root && root._vaeConditional) || api.conditionalURL;
    if (!url) return Promise.reject(new Error("latent explorer: no conditional decoder for this explorer"));
    if (!conditionals[url]) {
      conditionals[url] = fetchPack(url).then(function (buf) {
        var dec = new ConditionalDecoder(parsePack(buf));
        if (!api._cvae) api._cvae = dec;
        return dec;
      });
      conditionals[url].catch(function () { delete conditionals[url]; });
    }
    return conditionals[url];
  };
  var waiting = [];

  function expose(model) {
    if (api._model) return;
    api._model = model;
    api.encode = function (pixels) { return model.encode(pixels); };
    api.decode = function (z1, z2, label) {
      if (typeof z1 !== "number") { label = z2; z2 = z1[1]; z1 = z1[0]; }
      if (label === undefined || label === null) return model.decode(z1, z2, new Float32Array(784));
      if (!api._cvae) throw new Error("latent explorer: the conditional decoder is not loaded (await vaeExplorer.loadConditional())");
      return api._cvae.decode(z1, z2, label, new Float32Array(784));
    };
  }

  // Start an explorer in `root` for a model: used by the site (after loading) and the widget.
  function mount(root, model, timing) {
    if (timing) timing.modelBuilt = performance.now();
    var ex = new Explorer(root, model);
    var hadFocus = document.activeElement === root;
    var fallback = root.querySelectorAll(".vae-explorer__fallback");
    for (var i = 0; i < fallback.length; i++) fallback[i].hidden = true;
    root.appendChild(ex.app);
    root.classList.add("vae-explorer", "vae-explorer--live");
    root.setAttribute("data-vae-explorer", "ready");
    if (root.getAttribute("tabindex") === "0") { root.removeAttribute("tabindex"); root.removeAttribute("aria-label"); }
    if (hadFocus) ex.map.focus({ preventScroll: true });
    api.instances.push(ex);
    expose(model);
    if (timing) { timing.ready = performance.now(); ex.timing = timing; }
    var warm = window.requestIdleCallback || function (f) { return setTimeout(f, 50); };
    warm(function () { model.encode(new Float32Array(784)); }); // build the encoder before the first pick
    return ex;
  }

  function dataURL(root) {
    var src = root.getAttribute("data-src") || new URL("explorer/vae-2d.bin", SCRIPT_URL).href;
    var url = new URL(src, document.baseURI);
    if (url.protocol === "file:") url = new URL(url.href.replace(/\.bin([?#]|$)/, ".js$1"));
    return url.href;
  }

  function conditionalURL(root) { // cvae-2d.bin (file://: cvae-2d.js) next to the pack
    var url = new URL("cvae-2d.bin", dataURL(root));
    if (url.protocol === "file:") url = new URL("cvae-2d.js", url.href);
    return url.href;
  }

  function ensureStyles() {
    var links = document.querySelectorAll("link[rel~=stylesheet]");
    for (var i = 0; i < links.length; i++) if (/latent-explorer\.css(\?|#|$)/.test(links[i].href)) return;
    el("link", { rel: "stylesheet", href: new URL("latent-explorer.css", SCRIPT_URL).href }, document.head);
  }

  function start(root) {
    root.setAttribute("data-vae-explorer", "loading");
    var timing = { requested: performance.now() };
    api.timings.push(timing);
    var inline = root.querySelector("script.vae-explorer__data");
    if (!inline) { root._vaeConditional = conditionalURL(root); if (!api.conditionalURL) api.conditionalURL = root._vaeConditional; }
    var data = inline ? Promise.resolve(inline.textContent.trim()).then(function (b64) {
      var bin = atob(b64), out = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      timing.dataArrived = performance.now(); timing.bytes = out.length;
      return new Model(parsePack(out.buffer));
    }) : loadModel(dataURL(root), timing);
    return data.then(function (model) { return mount(root, model, timing); }).catch(function (err) {
      root.setAttribute("data-vae-explorer", "failed");
      var note = el("p", { class: "vae-explorer__note" }, root);
      note.textContent = "The interactive explorer could not load its data; the figure above is its static version.";
      console.error(err);
      return null;
    });
  }

  // Each explorer loads when it comes within 600 px of the viewport.
  var observer = HAS_DOM && "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      observer.unobserve(entry.target);
      entry.target._vaeStart(start(entry.target));
    });
  }, { rootMargin: "600px 0px" }) : null;

  function scan() {
    var roots = document.querySelectorAll(".vae-explorer:not([data-vae-explorer])");
    if (roots.length) ensureStyles();
    for (var i = 0; i < roots.length; i++) {
      (function (root) {
        root.setAttribute("data-vae-explorer", "waiting");
        var p = new Promise(function (resolve) { root._vaeStart = resolve; });
        waiting.push(p);
        if (observer) {
          observer.observe(root);
          // a keyboard reader can reach it before it has loaded: focus starts it, and the map takes the focus
          root.setAttribute("tabindex", "0");
          root.setAttribute("aria-label", "Latent explorer (loading)");
          root.addEventListener("focus", function once() {
            root.removeEventListener("focus", once);
            if (root.getAttribute("data-vae-explorer") === "waiting") { observer.unobserve(root); root._vaeStart(start(root)); }
          });
        } else {
          root._vaeStart(start(root));
        }
      })(roots[i]);
    }
    api.ready = Promise.all(waiting).then(function () { return api; });
    return api.ready;
  }

  api.loadAll = function () { // start every explorer now, without waiting to be scrolled to
    var roots = document.querySelectorAll(".vae-explorer[data-vae-explorer=waiting]");
    for (var i = 0; i < roots.length; i++) { if (observer) observer.unobserve(roots[i]); roots[i]._vaeStart(start(roots[i])); }
    return api.ready;
  };

  // anywidget entry point (vae_lib.widgets.LatentExplorer): the pack arrives as the "pack" trait.
  api.render = function (ctx) {
    var model = ctx.model, root = ctx.el, timing = { requested: performance.now() };
    var dv = model.get("pack");
    var buf = dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength);
    timing.dataArrived = performance.now(); timing.bytes = buf.byteLength;
    root.classList.add("vae-explorer");
    var ex = mount(root, new Model(parsePack(buf)), timing);
    function report() { model.set("z", ex.z.slice()); model.set("mu", ex.code ? ex.code.mu.slice() : []); model.save_changes(); }
    ex.root.addEventListener("pointerup", report);
    ex.root.addEventListener("keyup", report);
    ex.root.addEventListener("click", report);
    return function () { var i = api.instances.indexOf(ex); if (i >= 0) api.instances.splice(i, 1); };
  };

  if (HAS_DOM) {
    if (document.readyState === "loading") {
      api.ready = new Promise(function (resolve, reject) {
        document.addEventListener("DOMContentLoaded", function () { scan().then(resolve, reject); });
      });
    } else {
      scan();
    }
  }
})();

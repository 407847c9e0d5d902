/*
 * latent-explorer.js: the kernel-free 2-D VAE latent explorer of "Chapter 14: Variational
 * Autoencoders" (lessons 14-3 and 14-6). No dependencies, no build step, no network beyond
 * its own data file.
 *
 * Markup (see explorer-snippet.md):
 *   <div class="vae-explorer" data-src="../_static/explorer/vae-2d.js">
 *     <img class="vae-explorer__fallback" src="../_static/explorer/decoded-grid.png" alt="...">
 *   </div>
 *   <script src="../_static/latent-explorer.js"></script>
 *
 * data-src is resolved against the page, like the <img> beside it; without data-src the
 * script loads explorer/vae-2d.js next to itself (found through document.currentScript),
 * which works from any page depth. The data file is written by
 * `python -m vae_lib export-explorer` (vae_lib/explorer.py): the decoder of the vae-2d
 * checkpoint as base64 float16 arrays and the means of q(z|x) of 2,000 labelled test digits.
 *
 * The static <img> stays visible until the data has loaded (and whenever JavaScript is off,
 * and in print); then the interactive map replaces it.
 *
 * Test hook: window.vaeExplorer = {decode(z1, z2) -> Float32Array(784), ready: Promise,
 * instances: [...], version}. `ready` resolves once every explorer on the page is running.
 */
(function () {
  "use strict";

  var SCRIPT = document.currentScript;
  var SCRIPT_URL = (SCRIPT && SCRIPT.src) || (function () {
    var tags = document.getElementsByTagName("script");
    for (var i = tags.length - 1; i >= 0; i--) {
      if (/latent-explorer\.js(\?|#|$)/.test(tags[i].src)) return tags[i].src;
    }
    return document.baseURI;
  })();

  // Loaded twice on one page (e.g. once per pasted snippet): the first copy does the work.
  if (window.vaeExplorer && window.vaeExplorer.version) {
    window.vaeExplorer.scan();
    return;
  }

  var FORMAT = "vae_lib-latent-explorer-v1";
  var SIZE = 420; // CSS pixels of the square latent map (it shrinks on narrow screens)
  var MARGIN = { left: 38, right: 10, top: 10, bottom: 34 };
  var STEP = 0.05; // arrow-key step in z; Shift + arrow: 5 steps
  var STRIP = 9; // decoded frames along A -> B in interpolation mode

  // ------------------------------------------------------------------ data

  function b64bytes(s) {
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  var POW2 = new Float64Array(64);
  for (var e = 0; e < 64; e++) POW2[e] = Math.pow(2, e - 25);

  function half(h) { // IEEE 754 binary16 -> number (exact)
    var sign = h & 0x8000 ? -1 : 1;
    var exp = (h >> 10) & 0x1f;
    var frac = h & 0x3ff;
    if (exp === 0) return sign * frac * POW2[1]; // subnormal: frac * 2^-24
    if (exp === 31) return frac ? NaN : sign * Infinity;
    return sign * (1024 + frac) * POW2[exp]; // (1 + frac/1024) * 2^(exp-15)
  }

  function array(entry) {
    var bytes = b64bytes(entry.data);
    var view = new DataView(bytes.buffer);
    var n = entry.shape.reduce(function (a, b) { return a * b; }, 1);
    var out;
    if (entry.dtype === "float16") {
      out = new Float32Array(n);
      for (var i = 0; i < n; i++) out[i] = half(view.getUint16(2 * i, true));
    } else if (entry.dtype === "float32") {
      out = new Float32Array(n);
      for (var j = 0; j < n; j++) out[j] = view.getFloat32(4 * j, true);
    } else if (entry.dtype === "uint8") {
      out = bytes;
    } else {
      throw new Error("latent explorer: unknown dtype " + entry.dtype);
    }
    if (out.length !== n) throw new Error("latent explorer: array of the wrong size");
    return out;
  }

  // The MLP decoder: Linear, ReLU, ..., Linear, sigmoid. Weights are kept transposed
  // ([in][out]) so that each nonzero input adds one contiguous row; ReLU zeros are skipped.
  function Decoder(header) {
    var layers = header.decoder.layers;
    this.layers = layers.map(function (L) {
      var w = array(L.weight); // PyTorch layout [out][in]
      var wt = new Float32Array(L.in * L.out);
      for (var o = 0; o < L.out; o++) {
        for (var i = 0; i < L.in; i++) wt[i * L.out + o] = w[o * L.in + i];
      }
      return { nin: L.in, nout: L.out, wt: wt, b: array(L.bias), acc: new Float64Array(L.out) };
    });
    this.input = new Float64Array(this.layers[0].nin);
    var last = this.layers[this.layers.length - 1];
    if (this.layers[0].nin !== 2 || last.nout !== 784) {
      throw new Error("latent explorer: expected a decoder 2 -> ... -> 784");
    }
  }

  Decoder.prototype.decode = function (z1, z2, out) {
    var h = this.input;
    h[0] = z1; h[1] = z2;
    var n = this.layers.length;
    for (var l = 0; l < n; l++) {
      var L = this.layers[l], acc = L.acc, nout = L.nout, wt = L.wt, b = L.b, o;
      for (o = 0; o < nout; o++) acc[o] = b[o];
      for (var i = 0; i < L.nin; i++) {
        var v = h[i];
        if (v === 0) continue;
        var row = i * nout;
        for (o = 0; o < nout; o++) acc[o] += v * wt[row + o];
      }
      if (l < n - 1) {
        for (o = 0; o < nout; o++) if (acc[o] < 0) acc[o] = 0;
      }
      h = acc;
    }
    out = out || new Float32Array(784);
    for (var p = 0; p < 784; p++) out[p] = 1 / (1 + Math.exp(-h[p]));
    return out;
  };

  function Model(header) {
    if (header.format !== FORMAT) throw new Error("latent explorer: not a " + FORMAT + " file");
    this.header = header;
    this.decoder = new Decoder(header);
    this.z = array(header.points.z);
    this.labels = array(header.points.labels);
    this.count = header.points.count;
    this.view = header.view;
    this.colours = header.colours;
  }

  Model.prototype.nearest = function (z1, z2) {
    var best = Infinity, k = -1, z = this.z;
    for (var i = 0; i < this.count; i++) {
      var d1 = z[2 * i] - z1, d2 = z[2 * i + 1] - z2, d = d1 * d1 + d2 * d2;
      if (d < best) { best = d; k = i; }
    }
    return k < 0 ? null : this.labels[k];
  };

  // The exported data is a script that registers its JSON object under its own URL
  // (window.vaeExplorerData[src]): a <script> element loads it even from file:// pages,
  // where fetch() is refused.
  function loadScriptData(url) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = url;
      script.onload = function () {
        var header = (window.vaeExplorerData || {})[script.src];
        if (header) resolve(header);
        else reject(new Error("latent explorer: " + url + " did not register its data"));
      };
      script.onerror = function () { reject(new Error("latent explorer: could not load " + url)); };
      document.head.appendChild(script);
    });
  }

  var models = {};
  function loadModel(url) {
    if (!models[url]) {
      var data = /\.js([?#]|$)/.test(url) ? loadScriptData(url) : fetch(url).then(function (r) {
        if (!r.ok) throw new Error("latent explorer: " + url + " answered HTTP " + r.status);
        return r.json();
      });
      models[url] = data.then(function (header) { return new Model(header); });
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

  function fmt(v) {
    var s = v.toFixed(2);
    return s === "-0.00" ? "0.00" : s;
  }

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

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
    this.mode = "explore"; // or "interpolate"
    this.a = null; this.b = null; this.t = 0.5;
    this.dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
    this.build();
    this.drawBackground();
    this.update("init");
  }

  Explorer.prototype.build = function () {
    var self = this, id = this.id;
    var app = this.app = el("div", { class: "vae-explorer__app" });
    var main = el("div", { class: "vae-explorer__main" }, app);

    var mapBox = el("div", { class: "vae-explorer__mapbox" }, main);
    var map = this.map = el("canvas", {
      class: "vae-explorer__map",
      width: String(SIZE * this.dpr), height: String(SIZE * this.dpr),
      tabindex: "0", role: "application",
      "aria-roledescription": "latent map",
      "aria-label": "Latent map of the 2-D VAE: " + this.model.count + " test digits as dots coloured by " +
        "digit, and the point z that is decoded. Drag the point, or use the arrow keys to move it.",
      "aria-describedby": id + "-help",
    }, mapBox);
    this.ctx = map.getContext("2d");
    var legend = el("ul", { class: "vae-explorer__legend", "aria-label": "Digit colours" }, mapBox);
    for (var d = 0; d < 10; d++) {
      var li = el("li", {}, legend);
      var sw = el("span", { class: "vae-explorer__swatch", "aria-hidden": "true" }, li);
      sw.style.background = this.model.colours[d];
      el("span", { text: String(d) }, li);
    }

    var side = el("div", { class: "vae-explorer__side" }, main);
    el("div", { class: "vae-explorer__caption", text: "Decoded digit", id: id + "-digit-caption" }, side);
    var digit = this.digit = el("canvas", {
      class: "vae-explorer__digit", width: "28", height: "28", role: "img", "aria-labelledby": id + "-digit-caption",
    }, side);
    this.digitCtx = digit.getContext("2d");
    this.digitPixels = this.digitCtx.createImageData(28, 28);
    this.readout = el("div", { class: "vae-explorer__readout", "aria-hidden": "true" }, side);

    var toggle = this.toggle = el("button", {
      type: "button", class: "vae-explorer__toggle", "aria-pressed": "false",
    }, side);
    toggle.textContent = "Interpolate A \u2192 B";
    toggle.addEventListener("click", function () { self.setMode(self.mode === "explore" ? "interpolate" : "explore"); });

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
      class: "vae-explorer__strip", width: String(28 * STRIP), height: "28", role: "img", hidden: "",
      "aria-label": "Digits decoded at " + STRIP + " evenly spaced points from A (left) to B (right)",
    }, app);
    this.stripCtx = strip.getContext("2d");
    this.stripPixels = this.stripCtx.createImageData(28 * STRIP, 28);

    el("p", {
      class: "vae-explorer__help", id: id + "-help",
      text: "Drag the point on the map, or click the map and use the arrow keys (Shift: bigger steps). " +
        "To interpolate: press \u201cInterpolate A \u2192 B\u201d, click two points A and B (or press Enter at each), " +
        "then move the t slider (arrow keys work there too).",
    }, app);
    this.live = el("div", { class: "vae-explorer__live", "aria-live": "polite", role: "status" }, app);

    // Pointer: mouse, pen and touch alike.
    var dragging = false;
    map.addEventListener("pointerdown", function (ev) {
      if (ev.button !== undefined && ev.button !== 0) return;
      ev.preventDefault();
      map.focus({ preventScroll: true });
      var z = self.eventToZ(ev);
      if (self.mode === "interpolate") { self.place(z); return; }
      dragging = true;
      try { map.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic events */ }
      self.setZ(z[0], z[1], "drag");
    });
    map.addEventListener("pointermove", function (ev) {
      if (!dragging) return;
      var z = self.eventToZ(ev);
      self.setZ(z[0], z[1], "drag");
    });
    function end(ev) {
      if (!dragging) return;
      dragging = false;
      try { map.releasePointerCapture(ev.pointerId); } catch (e) { /* already released */ }
      self.announce();
    }
    map.addEventListener("pointerup", end);
    map.addEventListener("pointercancel", end);
    map.addEventListener("keydown", function (ev) { self.onKey(ev); });

    window.addEventListener("resize", function () {
      var dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
      if (dpr !== self.dpr) {
        self.dpr = dpr;
        map.width = SIZE * dpr; map.height = SIZE * dpr;
        self.drawBackground();
        self.draw();
      }
    });
  };

  // z <-> CSS pixel coordinates inside the SIZE x SIZE map.
  Explorer.prototype.px = function (z1, z2) {
    var w = SIZE - MARGIN.left - MARGIN.right, h = SIZE - MARGIN.top - MARGIN.bottom;
    return [MARGIN.left + (z1 - this.lo1) / (this.hi1 - this.lo1) * w,
            MARGIN.top + (this.hi2 - z2) / (this.hi2 - this.lo2) * h];
  };

  Explorer.prototype.eventToZ = function (ev) {
    var r = this.map.getBoundingClientRect();
    var x = (ev.clientX - r.left) / r.width * SIZE, y = (ev.clientY - r.top) / r.height * SIZE;
    var w = SIZE - MARGIN.left - MARGIN.right, h = SIZE - MARGIN.top - MARGIN.bottom;
    var z1 = this.lo1 + (x - MARGIN.left) / w * (this.hi1 - this.lo1);
    var z2 = this.hi2 - (y - MARGIN.top) / h * (this.hi2 - this.lo2);
    return [clamp(z1, this.lo1, this.hi1), clamp(z2, this.lo2, this.hi2)];
  };

  Explorer.prototype.drawBackground = function () {
    var c = this.bg = document.createElement("canvas");
    c.width = SIZE * this.dpr; c.height = SIZE * this.dpr;
    var g = c.getContext("2d"), self = this, m = this.model;
    g.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    g.fillStyle = "#ffffff";
    g.fillRect(0, 0, SIZE, SIZE);
    var p0 = this.px(this.lo1, this.hi2), p1 = this.px(this.hi1, this.lo2);
    // grid and ticks at the integers
    g.font = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";
    g.fillStyle = "#333";
    g.lineWidth = 1;
    for (var k = Math.ceil(this.lo1); k <= this.hi1; k++) {
      var x = this.px(k, 0)[0];
      g.strokeStyle = k === 0 ? "#bbbbbb" : "#eeeeee";
      g.beginPath(); g.moveTo(x, p0[1]); g.lineTo(x, p1[1]); g.stroke();
      g.textAlign = "center"; g.textBaseline = "top";
      g.fillText(String(k), x, p1[1] + 4);
    }
    for (k = Math.ceil(this.lo2); k <= this.hi2; k++) {
      var y = this.px(0, k)[1];
      g.strokeStyle = k === 0 ? "#bbbbbb" : "#eeeeee";
      g.beginPath(); g.moveTo(p0[0], y); g.lineTo(p1[0], y); g.stroke();
      g.textAlign = "right"; g.textBaseline = "middle";
      g.fillText(String(k), p0[0] - 5, y);
    }
    g.strokeStyle = "#888888";
    g.strokeRect(p0[0], p0[1], p1[0] - p0[0], p1[1] - p0[1]);
    g.font = "italic 13px Georgia, 'Times New Roman', serif";
    g.textAlign = "center"; g.textBaseline = "bottom";
    g.fillText("z\u2081", (p0[0] + p1[0]) / 2, SIZE - 1);
    g.save();
    g.translate(11, (p0[1] + p1[1]) / 2); g.rotate(-Math.PI / 2);
    g.textBaseline = "middle";
    g.fillText("z\u2082", 0, 0);
    g.restore();
    // the test digits
    g.save();
    g.beginPath(); g.rect(p0[0], p0[1], p1[0] - p0[0], p1[1] - p0[1]); g.clip();
    g.globalAlpha = 0.65;
    var sums = [];
    for (var d = 0; d < 10; d++) sums.push([]);
    for (var i = 0; i < m.count; i++) {
      var lab = m.labels[i], z1 = m.z[2 * i], z2 = m.z[2 * i + 1], p = this.px(z1, z2);
      g.fillStyle = lab < 10 ? m.colours[lab] : "#777777";
      g.beginPath(); g.arc(p[0], p[1], 1.7, 0, 2 * Math.PI); g.fill();
      if (lab < 10) sums[lab].push([z1, z2]);
    }
    g.globalAlpha = 1;
    // each cluster labelled with its digit at its median, so colour is not the only cue
    g.font = "bold 13px system-ui, -apple-system, 'Segoe UI', sans-serif";
    g.textAlign = "center"; g.textBaseline = "middle";
    sums.forEach(function (pts, digit) {
      if (!pts.length) return;
      var med = [0, 1].map(function (j) {
        var a = pts.map(function (q) { return q[j]; }).sort(function (u, v) { return u - v; });
        return a[Math.floor(a.length / 2)];
      });
      var q = self.px(med[0], med[1]);
      g.fillStyle = "rgba(255,255,255,0.85)";
      g.strokeStyle = m.colours[digit];
      g.lineWidth = 2;
      g.beginPath(); g.arc(q[0], q[1], 9, 0, 2 * Math.PI); g.fill(); g.stroke();
      g.fillStyle = "#000";
      g.fillText(String(digit), q[0], q[1] + 0.5);
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

  Explorer.prototype.draw = function () {
    var g = this.ctx;
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
        g.lineWidth = 3; g.strokeStyle = "#ffffff";
        g.strokeText(item[1], item[0][0] + 7, item[0][1] - 4);
        g.fillStyle = "#000000";
        g.fillText(item[1], item[0][0] + 7, item[0][1] - 4);
      });
    }
    var p = this.px(this.z[0], this.z[1]);
    marker(g, p, 8, null);
    g.fillStyle = "#000000";
    g.beginPath(); g.arc(p[0], p[1], 2, 0, 2 * Math.PI); g.fill();
    // the decoded digit, dark ink on white as in the lessons' figures
    var px = this.digitPixels.data, img = this.image;
    for (var i = 0; i < 784; i++) {
      var v = Math.round(255 * (1 - img[i]));
      px[4 * i] = v; px[4 * i + 1] = v; px[4 * i + 2] = v; px[4 * i + 3] = 255;
    }
    this.digitCtx.putImageData(this.digitPixels, 0, 0);
    this.digit.setAttribute("aria-label", "Decoded digit at z = (" + fmt(this.z[0]) + ", " + fmt(this.z[1]) + ")");
  };

  // The current state in words: [z, t (when interpolating), nearest test digit].
  Explorer.prototype.parts = function () {
    var near = this.model.nearest(this.z[0], this.z[1]);
    var out = ["z = (" + fmt(this.z[0]) + ", " + fmt(this.z[1]) + ")"];
    if (this.mode === "interpolate" && this.a && this.b) out.push("t = " + fmt(this.t));
    if (near !== null && near < 10) out.push("nearest test digit: " + near);
    return out;
  };

  Explorer.prototype.description = function () { return this.parts().join("; "); };

  Explorer.prototype.announce = function (extra) {
    this.live.textContent = (extra ? extra + " " : "") + this.description() + ".";
  };

  Explorer.prototype.update = function (why) {
    this.model.decoder.decode(this.z[0], this.z[1], this.image);
    this.draw();
    this.readout.textContent = this.parts().join("\n");
    if (why !== "drag" && why !== "init") this.announce();
  };

  Explorer.prototype.setZ = function (z1, z2, why) {
    this.z = [clamp(z1, this.lo1, this.hi1), clamp(z2, this.lo2, this.hi2)];
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
    // round to the step grid so repeated presses land on tidy values
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
    this.interpStatus.textContent = "Click the map (or press Enter on it) to place A.";
    this.draw();
    this.live.textContent = on ? "Interpolation mode. Click the map, or move with the arrow keys and press Enter, to place A."
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
    this.interpStatus.textContent = "A = (" + fmt(this.a[0]) + ", " + fmt(this.a[1]) + "), B = (" +
      fmt(z[0]) + ", " + fmt(z[1]) + "). Move t; click again to start over.";
    this.drawStrip();
    this.strip.hidden = false;
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
      this.model.decoder.decode(this.a[0] + t * (this.b[0] - this.a[0]), this.a[1] + t * (this.b[1] - this.a[1]), buf);
      for (var r = 0; r < 28; r++) {
        for (var c = 0; c < 28; c++) {
          var v = Math.round(255 * (1 - buf[r * 28 + c])), k = 4 * (r * W + f * 28 + c);
          px[k] = v; px[k + 1] = v; px[k + 2] = v; px[k + 3] = 255;
        }
      }
    }
    this.stripCtx.putImageData(this.stripPixels, 0, 0);
  };

  Explorer.prototype.state = function () {
    return { z: this.z.slice(), image: new Float32Array(this.image), mode: this.mode,
             a: this.a && this.a.slice(), b: this.b && this.b.slice(), t: this.t, live: this.live.textContent };
  };

  // ------------------------------------------------------------ start-up

  var api = window.vaeExplorer = {
    version: 1,
    instances: [],
    decode: function () { throw new Error("latent explorer: not loaded yet (await vaeExplorer.ready)"); },
    ready: null,
    scan: scan,
  };
  var pending = [];

  function dataURL(root) {
    var src = root.getAttribute("data-src");
    return src ? new URL(src, document.baseURI).href : new URL("explorer/vae-2d.js", SCRIPT_URL).href;
  }

  function ensureStyles() {
    var links = document.querySelectorAll("link[rel~=stylesheet]");
    for (var i = 0; i < links.length; i++) if (/latent-explorer\.css(\?|#|$)/.test(links[i].href)) return;
    el("link", { rel: "stylesheet", href: new URL("latent-explorer.css", SCRIPT_URL).href }, document.head);
  }

  function start(root) {
    root.setAttribute("data-vae-explorer", "loading");
    var url = dataURL(root);
    var done = loadModel(url).then(function (model) {
      var ex = new Explorer(root, model);
      var fallback = root.querySelectorAll(".vae-explorer__fallback, :scope > img");
      for (var i = 0; i < fallback.length; i++) fallback[i].hidden = true;
      root.appendChild(ex.app);
      root.classList.add("vae-explorer--live");
      root.setAttribute("data-vae-explorer", "ready");
      api.instances.push(ex);
      if (!api._model) {
        api._model = model;
        api.decode = function (z1, z2) { return model.decoder.decode(z1, z2, new Float32Array(784)); };
      }
      return ex;
    }).catch(function (err) {
      // Keep the static figure and say why the interactive version is missing.
      root.setAttribute("data-vae-explorer", "failed");
      var note = el("p", { class: "vae-explorer__note" }, root);
      note.textContent = "The interactive explorer could not load its data; the figure above is its static version.";
      console.error(err);
      return null;
    });
    pending.push(done);
    return done;
  }

  function scan() {
    var roots = document.querySelectorAll(".vae-explorer:not([data-vae-explorer])");
    if (roots.length) ensureStyles();
    for (var i = 0; i < roots.length; i++) start(roots[i]);
    api.ready = Promise.all(pending).then(function () { return api; });
    return api.ready;
  }

  if (document.readyState === "loading") {
    api.ready = new Promise(function (resolve, reject) {
      document.addEventListener("DOMContentLoaded", function () { scan().then(resolve, reject); });
    });
  } else {
    scan();
  }
})();

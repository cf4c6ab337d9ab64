// The timbre map page of musicnn: draws the grid, lists the sounds of a unit, plays them.
// Everything shown comes from the JSON block #map-data and is written with textContent,
// never as HTML: file names and labels can hold any characters.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("map-data").textContent);
  var S = data.sounds;
  var n = S.name.length;
  var U = data.grid.rows * data.grid.cols;
  var hex = data.grid.topology === "hexagonal";
  var embeddedAudio = null;  // parsed on the first click of an embedded map

  // sounds of each unit, nearest its prototype first
  var byUnit = [];
  var u, i;
  for (u = 0; u < U; u++) byUnit.push([]);
  for (i = 0; i < n; i++) byUnit[S.unit[i]].push(i);
  for (u = 0; u < U; u++) byUnit[u].sort(function (a, b) { return S.distance[a] - S.distance[b]; });
  var maxHits = 1;
  for (u = 0; u < U; u++) maxHits = Math.max(maxHits, byUnit[u].length);

  var canvas = document.getElementById("grid");
  var ctx = canvas.getContext("2d");
  var audio = document.getElementById("player");
  var $ = function (id) { return document.getElementById(id); };

  var state = { mode: data.labels.length ? "labels" : "umatrix", hovered: -1, pinned: -1, matches: null,
                playing: -1, cell: 20, offX: 0, offY: 0 };

  // -- geometry ---------------------------------------------------------------------
  var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  data.centres.forEach(function (c) {
    minX = Math.min(minX, c[0]); maxX = Math.max(maxX, c[0]);
    minY = Math.min(minY, c[1]); maxY = Math.max(maxY, c[1]);
  });

  function layout() {
    var box = $("grid-box");
    var width = Math.max(240, box.clientWidth - 8);
    var spanX = maxX - minX + 1.2, spanY = maxY - minY + 1.2;
    var height = Math.max(240, window.innerHeight - 190);
    state.cell = Math.max(4, Math.min(width / spanX, height / spanY, 64));
    var w = Math.ceil(spanX * state.cell), h = Math.ceil(spanY * state.cell);
    var ratio = window.devicePixelRatio || 1;
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    state.offX = (0.6 - minX) * state.cell;
    state.offY = (0.6 - minY) * state.cell;
  }

  function centre(unit) {  // CSS pixels from the canvas's top left corner
    var c = data.centres[unit];
    return [state.offX + c[0] * state.cell, state.offY + c[1] * state.cell];
  }

  function cellPath(unit, shrink) {
    var c = centre(unit), s = state.cell * (shrink || 1), k;
    ctx.beginPath();
    if (hex) {
      var r = s / Math.sqrt(3);
      for (k = 0; k < 6; k++) {
        var a = Math.PI / 180 * (90 + 60 * k);
        var x = c[0] + r * Math.cos(a), y = c[1] + r * Math.sin(a);
        if (k === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.closePath();
    } else {
      ctx.rect(c[0] - s / 2, c[1] - s / 2, s, s);
    }
  }

  // -- colours ----------------------------------------------------------------------
  function grey(v) { var g = Math.round(250 - 215 * v); return "rgb(" + g + "," + g + "," + g + ")"; }

  function hitsColour(h) {
    if (!h) return "#ffffff";
    var t = h / maxHits;  // light yellow to dark blue
    var r = Math.round(255 - 225 * t), g = Math.round(245 - 160 * t), b = Math.round(180 - 20 * t);
    return "rgb(" + r + "," + g + "," + b + ")";
  }

  function fill(unit) {
    if (state.mode === "umatrix") return grey(data.umatrix[unit]);
    if (state.mode === "hits") return hitsColour(byUnit[unit].length);
    var lab = data.unitLabel[unit];
    return lab >= 0 ? data.colours[lab] : "#dcdcdc";
  }

  // -- drawing ----------------------------------------------------------------------
  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    var unit;
    for (unit = 0; unit < U; unit++) {
      cellPath(unit);
      ctx.fillStyle = fill(unit);
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = "#ffffff";
      ctx.stroke();
    }
    if (state.mode === "labels") drawBorders();
    if (state.matches) {
      state.matches.forEach(function (m) { outline(m, "#d62728", 2.5, 0.8); });
    }
    if (state.playing >= 0) {
      var c = centre(S.unit[state.playing]);
      ctx.beginPath();
      ctx.arc(c[0], c[1], Math.max(2.5, state.cell * 0.15), 0, 2 * Math.PI);
      ctx.fillStyle = "#000000";
      ctx.fill();
    }
    if (state.hovered >= 0 && state.hovered !== state.pinned) outline(state.hovered, "#222222", 2, 0.95);
    if (state.pinned >= 0) outline(state.pinned, "#ff7f0e", 3, 0.95);
  }

  function drawBorders() {  // dark, thick edges between far-apart neighbouring prototypes
    ctx.lineCap = "round";
    data.borders.forEach(function (b) {
      ctx.beginPath();
      ctx.moveTo(state.offX + b[0] * state.cell, state.offY + b[1] * state.cell);
      ctx.lineTo(state.offX + b[2] * state.cell, state.offY + b[3] * state.cell);
      ctx.lineWidth = 0.3 + 3.2 * b[4] * Math.min(1, state.cell / 30);
      ctx.strokeStyle = "rgba(0,0,0," + (0.1 + 0.85 * b[4]).toFixed(3) + ")";
      ctx.stroke();
    });
  }

  function outline(unit, colour, width, shrink) {
    cellPath(unit, shrink);
    ctx.lineWidth = width;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }

  function unitAt(event) {
    var box = canvas.getBoundingClientRect();
    var x = event.clientX - box.left, y = event.clientY - box.top;
    var best = -1, bestD = Infinity, unit;
    for (unit = 0; unit < U; unit++) {
      var c = centre(unit), d = (c[0] - x) * (c[0] - x) + (c[1] - y) * (c[1] - y);
      if (d < bestD) { bestD = d; best = unit; }
    }
    return Math.sqrt(bestD) <= state.cell * 0.62 ? best : -1;
  }

  // -- the panel --------------------------------------------------------------------
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function labelOf(i) { return S.label[i] >= 0 ? data.labels[S.label[i]] : ""; }

  function soundRow(i, dist) {
    var tr = el("tr");
    var td = el("td");
    var b = el("button", S.name[i], "play");
    b.type = "button";
    b.title = "play " + S.name[i];
    b.setAttribute("data-sound", String(i));
    if (i === state.playing) b.className += " playing";
    td.appendChild(b);
    tr.appendChild(td);
    var lab = el("td", labelOf(i), "label");
    if (S.label[i] >= 0) {
      var sw = el("span", null, "swatch");
      sw.style.background = data.colours[S.label[i]];
      lab.insertBefore(sw, lab.firstChild);
    }
    tr.appendChild(lab);
    tr.appendChild(el("td", dist.toFixed(3), "num"));
    return tr;
  }

  var LIST_LIMIT = 300;

  function fillRows(body, indices, dists) {
    body.textContent = "";
    var k, shown = Math.min(indices.length, LIST_LIMIT);
    for (k = 0; k < shown; k++) body.appendChild(soundRow(indices[k], dists[k]));
    if (indices.length > shown) {
      var tr = el("tr"), td = el("td", "and " + (indices.length - shown) + " more", "more");
      td.colSpan = 3;
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function showUnit(unit) {
    if (unit < 0) return;
    var r = Math.floor(unit / data.grid.cols), c = unit % data.grid.cols;
    var own = byUnit[unit];
    $("unit-title").textContent = "Unit (row " + r + ", column " + c + ")" + (unit === state.pinned ? " (pinned)" : "");
    var lab = data.unitLabel[unit];
    $("unit-stats").textContent = own.length + " sound" + (own.length === 1 ? "" : "s") +
      (lab >= 0 ? "; majority label: " + data.labels[lab] : "") + "; U-matrix " + data.umatrixRaw[unit].toFixed(3);
    fillRows($("unit-sounds"), own, own.map(function (j) { return S.distance[j]; }));
    var near = data.neighbours[unit].filter(function (j) { return j >= 0; });
    fillRows($("unit-neighbours"), near, data.neighbourDistance[unit].slice(0, near.length));
  }

  // -- audio --------------------------------------------------------------------------
  function source(i) {
    if (data.audio === "embedded") {
      if (embeddedAudio === null) embeddedAudio = JSON.parse($("map-audio").textContent);
      return embeddedAudio[i];
    }
    return data.src[i];
  }

  function play(i) {
    state.playing = i;
    $("now-playing").textContent = "Playing: " + S.name[i] + (labelOf(i) ? " (" + labelOf(i) + ")" : "");
    audio.src = source(i);
    var p = audio.play();
    if (p && p.catch) {
      p.catch(function (err) {
        $("now-playing").textContent = "Cannot play " + S.name[i] + ": " + err.message;
      });
    }
    draw();
    var prev = document.querySelectorAll("button.play.playing"), k;
    for (k = 0; k < prev.length; k++) prev[k].classList.remove("playing");
    var now = document.querySelectorAll('button.play[data-sound="' + i + '"]');
    for (k = 0; k < now.length; k++) now[k].classList.add("playing");
  }

  audio.addEventListener("error", function () {
    if (state.playing >= 0) {
      $("now-playing").textContent = "Cannot play " + S.name[state.playing] +
        (data.audio === "linked" ? ": the file is not where the map links it (rebuild with embedded audio to move the page)" : "");
    }
  });

  document.addEventListener("click", function (event) {
    var b = event.target.closest ? event.target.closest("button[data-sound]") : null;
    if (!b) return;
    var i = parseInt(b.getAttribute("data-sound"), 10);
    if (b.hasAttribute("data-pin")) { state.pinned = S.unit[i]; showUnit(state.pinned); }
    play(i);
  });

  // -- search -------------------------------------------------------------------------
  var lowerNames = S.name.map(function (s) { return s.toLowerCase(); });

  function search(text) {
    var q = text.trim().toLowerCase(), body = $("search-results");
    body.textContent = "";
    $("search-panel").className = q ? "panel active" : "panel";
    if (!q) { state.matches = null; $("search-count").textContent = ""; draw(); return; }
    var found = [], units = new Set(), k;
    for (k = 0; k < n; k++) {
      if (lowerNames[k].indexOf(q) >= 0) { found.push(k); units.add(S.unit[k]); }
    }
    state.matches = units;
    $("search-count").textContent = found.length + " sound" + (found.length === 1 ? "" : "s") + " match" +
      (found.length === 1 ? "es" : "") + (found.length > 100 ? " (first 100 listed)" : "");
    for (k = 0; k < Math.min(found.length, 100); k++) {
      var li = el("li"), b = el("button", S.name[found[k]], "play");
      b.type = "button";
      b.setAttribute("data-sound", String(found[k]));
      b.setAttribute("data-pin", "1");
      li.appendChild(b);
      li.appendChild(el("span", " " + labelOf(found[k]), "label"));
      body.appendChild(li);
    }
    draw();
  }

  // -- wiring ---------------------------------------------------------------------------
  function setMode(mode) {
    state.mode = mode;
    var boxes = document.querySelectorAll("input[name=mode]"), k;
    for (k = 0; k < boxes.length; k++) boxes[k].checked = boxes[k].value === mode;
    draw();
  }

  canvas.addEventListener("mousemove", function (event) {
    var unit = unitAt(event);
    if (unit === state.hovered) return;
    state.hovered = unit;
    if (state.pinned < 0 && unit >= 0) showUnit(unit);
    draw();
  });
  canvas.addEventListener("mouseleave", function () { state.hovered = -1; draw(); });
  canvas.addEventListener("click", function (event) {
    var unit = unitAt(event);
    state.pinned = unit === state.pinned ? -1 : unit;
    showUnit(unit >= 0 ? unit : state.hovered);
    draw();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { state.pinned = -1; draw(); }
  });
  var radios = document.querySelectorAll("input[name=mode]");
  for (i = 0; i < radios.length; i++) {
    radios[i].addEventListener("change", function (event) { setMode(event.target.value); });
  }
  if (!data.labels.length) $("mode-labels").disabled = true;
  $("search").addEventListener("input", function (event) { search(event.target.value); });
  window.addEventListener("resize", function () { layout(); draw(); });

  // legend
  var legend = $("legend");
  data.labels.forEach(function (name, k) {
    var li = el("li"), sw = el("span", null, "swatch");
    sw.style.background = data.colours[k];
    li.appendChild(sw);
    li.appendChild(el("span", name + " (" + data.labelCounts[k] + ")"));
    legend.appendChild(li);
  });
  if (!data.labels.length) legend.appendChild(el("li", "no labels: the U-matrix and hits show the map"));

  layout();
  setMode(state.mode);
  window.timbreMap = {
    units: U, sounds: n, readyAt: performance.now(),
    centre: centre, mode: function () { return state.mode; }, playing: function () { return state.playing; }
  };
  document.documentElement.setAttribute("data-ready", "1");
})();

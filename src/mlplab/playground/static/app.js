// mlplab playground page: keeps the settings, talks to this tab's session over one WebSocket, and draws.
// Training happens on the server in mlplab; this file only sends settings and commands and renders updates.
"use strict";

const $ = (id) => document.getElementById(id);
const DEFAULTS = {
  dataset: "circle", n_samples: 400, noise: 0, train_ratio: 50, seed: 0, features: ["x1", "x2"],
  layers: [{units: 4, activation: "tanh"}, {units: 2, activation: "tanh"}], dropout: 0, batch_norm: false,
  regularization: "none", regularization_rate: 0, loss: "auto", optimizer: "adam", learning_rate: 0.03,
  schedule: "none", batch_size: 10, points: [], columns: ["x1", "x2"], lesson: null, lesson_step: 0,
};
const LOSSES = {
  binary: [["binary_crossentropy", "cross-entropy"], ["mean_squared_error", "mean squared error"]],
  multiclass: [["sparse_categorical_crossentropy", "cross-entropy"]],
  regression: [["mean_squared_error", "mean squared error"], ["mean_absolute_error", "mean absolute error"]],
};
const TASKS = {circle: "binary", xor: "binary", gaussians: "binary", spiral: "binary", moons: "binary",
               linear: "binary", quadratic: "binary", blobs: "multiclass", spirals: "multiclass",
               cubic: "regression", custom: null};
const CLASS_COLOURS = [[245, 147, 34], [8, 119, 189], [46, 160, 67], [200, 50, 120], [120, 80, 200], [90, 90, 90],
                       [200, 180, 20], [20, 180, 190]];
const ACTIVATION_NAMES = {relu: "ReLU", tanh: "tanh", sigmoid: "sigmoid", linear: "linear", leaky_relu: "leaky ReLU",
                          elu: "ELU", softplus: "softplus"};
const MAX_HISTORY = 3000;

const page = {
  config: null, socket: null, session: null, limits: {max_layers: 8, max_units: 32}, data: null, last: null,
  playing: false, history: null, sendTimer: null, lesson: null,
};
window.playground = page;  // for scripts and tests: page.last is the latest update from the server

// ---------------------------------------------------------------------------------- settings ----
function loadConfig() {
  let config = structuredClone(DEFAULTS);
  if (location.hash.length > 1) {
    try {
      const shared = JSON.parse(decodeURIComponent(location.hash.slice(1)));
      if (shared && typeof shared === "object" && !Array.isArray(shared)) config = Object.assign(config, shared);
    } catch (err) {
      showMessage("The link's settings could not be read; starting from the defaults.");
    }
  }
  return config;
}

function showConfig(config) {
  $("dataset").value = config.dataset;
  $("noise").value = config.noise; $("noise-value").textContent = config.noise;
  $("train-ratio").value = config.train_ratio; $("train-ratio-value").textContent = config.train_ratio;
  $("n-samples").value = config.n_samples;
  $("seed").value = config.seed;
  $("learning-rate").value = config.learning_rate;
  $("schedule").value = config.schedule;
  $("optimizer").value = config.optimizer;
  $("regularization").value = config.regularization;
  $("regularization-rate").value = String(config.regularization_rate);
  $("batch-size").value = config.batch_size;
  $("dropout").value = String(config.dropout);
  $("batch-norm").checked = config.batch_norm;
  for (const box of document.querySelectorAll("input[name=feature]")) box.checked = config.features.includes(box.value);
  if (config.layers.length) $("activation").value = config.layers[0].activation;
  renderLayerControls();
}

function task() {
  return page.data ? page.data.task : null;
}

function showLosses(currentTask, loss) {
  const select = $("loss");
  select.replaceChildren(...LOSSES[currentTask].map(([value, text]) => new Option(text, value)));
  select.value = loss;
}

function sendConfig(delay = 0) {
  clearTimeout(page.sendTimer);
  page.sendTimer = setTimeout(() => {
    history.replaceState(null, "", "#" + encodeURIComponent(JSON.stringify(shareable(page.config))));
    send({type: "config", config: page.config});
  }, delay);
}

function shareable(config) {
  const copy = Object.assign({}, config);
  if (copy.dataset !== "custom") delete copy.points;
  return copy;
}

function changed(key, value, delay = 0) {
  page.config[key] = value;
  sendConfig(delay);
}

function wireControls() {
  $("dataset").addEventListener("change", (e) => {
    if (TASKS[e.target.value] !== task()) page.config.loss = "auto";  // the loss list depends on the task
    changed("dataset", e.target.value);
  });
  $("noise").addEventListener("input", (e) => { $("noise-value").textContent = e.target.value; changed("noise", +e.target.value, 150); });
  $("train-ratio").addEventListener("input", (e) => { $("train-ratio-value").textContent = e.target.value; changed("train_ratio", +e.target.value, 150); });
  $("n-samples").addEventListener("change", (e) => changed("n_samples", Math.round(+e.target.value)));
  $("seed").addEventListener("change", (e) => changed("seed", Math.round(+e.target.value)));
  $("learning-rate").addEventListener("change", (e) => changed("learning_rate", +e.target.value));
  $("schedule").addEventListener("change", (e) => changed("schedule", e.target.value));
  $("optimizer").addEventListener("change", (e) => changed("optimizer", e.target.value));
  $("loss").addEventListener("change", (e) => changed("loss", e.target.value));
  $("regularization").addEventListener("change", (e) => changed("regularization", e.target.value));
  $("regularization-rate").addEventListener("change", (e) => changed("regularization_rate", +e.target.value));
  $("batch-size").addEventListener("change", (e) => changed("batch_size", Math.round(+e.target.value)));
  $("dropout").addEventListener("change", (e) => changed("dropout", +e.target.value));
  $("batch-norm").addEventListener("change", (e) => changed("batch_norm", e.target.checked));
  $("activation").addEventListener("change", (e) => {
    for (const layer of page.config.layers) layer.activation = e.target.value;
    renderLayerControls();
    sendConfig();
  });
  for (const box of document.querySelectorAll("input[name=feature]")) {
    box.addEventListener("change", () => {
      const chosen = [...document.querySelectorAll("input[name=feature]:checked")].map((b) => b.value);
      if (!chosen.length) { box.checked = true; showMessage("Keep at least one input feature."); return; }
      changed("features", chosen);
    });
  }
  $("add-layer").addEventListener("click", () => {
    if (page.config.layers.length >= page.limits.max_layers) return showMessage(`At most ${page.limits.max_layers} hidden layers.`);
    page.config.layers.push({units: 2, activation: $("activation").value});
    renderLayerControls(); sendConfig();
  });
  $("remove-layer").addEventListener("click", () => {
    if (!page.config.layers.length) return;
    page.config.layers.pop(); renderLayerControls(); sendConfig();
  });
  $("play").addEventListener("click", () => send({type: page.playing ? "pause" : "play"}));
  $("step").addEventListener("click", () => send({type: "step"}));
  $("reset").addEventListener("click", () => send({type: "reset"}));
  $("explain").addEventListener("click", () => { $("explain-text").textContent = "Computing…"; $("explain-dialog").showModal(); send({type: "explain"}); });
  $("copy-link").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); showMessage("Link copied: it opens this setup in a new session."); }
    catch (err) { showMessage("Copy the address bar: it holds this whole setup."); }
  });
  $("upload").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    if (file.size > 200000) return showMessage(`The CSV file is too large: at most 200 kB (this one has ${Math.round(file.size / 1000)} kB).`);
    send({type: "upload", csv: await file.text()});
  });
  $("heatmap").addEventListener("click", addPoint);
  $("lesson").addEventListener("change", (e) => e.target.value ? send({type: "lesson", name: e.target.value}) : leaveLesson());
  $("lesson-previous").addEventListener("click", () => openStep(page.data.config.lesson_step - 1));
  $("lesson-next").addEventListener("click", () => openStep(page.data.config.lesson_step + 1));
  $("lesson-leave").addEventListener("click", leaveLesson);
  $("presentation").addEventListener("change", (e) => { document.body.classList.toggle("presentation", e.target.checked); if (page.data) { buildDiagram(); if (page.last) update(page.last); } });
  $("axis-x").addEventListener("change", (e) => sendView({x: +e.target.value}));
  $("axis-y").addEventListener("change", (e) => sendView({y: +e.target.value}));
  $("held").addEventListener("change", (e) => sendView({held: +e.target.value}));
  $("held").addEventListener("input", (e) => { $("held-value").textContent = e.target.value; });
  $("import-model").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    if (file.size > 280000) return showMessage(`The file is too large for the page: at most 280 kB (this one has ${Math.round(file.size / 1000)} kB).`);
    if (file.name.endsWith(".py")) send({type: "import_script", text: await file.text()});  // its settings line
    else send({type: "import", model: toBase64(await file.arrayBuffer())});
  });
  document.addEventListener("keydown", (e) => {  // P play/pause, S step, R reset, when not typing in a field
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName) || $("play").disabled) return;
    const key = e.key.toLowerCase();
    if (key === "p") $("play").click(); else if (key === "s") $("step").click(); else if (key === "r") $("reset").click();
  });
  window.addEventListener("resize", () => { if (page.data) { buildDiagram(); if (page.last) drawNodes(page.last); } });
  $("show-test").addEventListener("change", () => drawOutput());
  $("discretize").addEventListener("change", () => drawOutput());
}

function renderLayerControls() {
  const layers = page.config.layers;
  $("layer-count").textContent = `${layers.length} hidden layer${layers.length === 1 ? "" : "s"}`;
  const controls = layers.map((layer, i) => {
    const n = i + 1;
    const box = document.createElement("div");
    box.className = "layer-control";
    const add = button("+", `Add a neuron to layer ${n}`, () => {
      if (layer.units >= page.limits.max_units) return showMessage(`At most ${page.limits.max_units} neurons per layer.`);
      layer.units += 1; renderLayerControls(); sendConfig();
    });
    const remove = button("−", `Remove a neuron from layer ${n}`, () => {
      if (layer.units <= 1) return;
      layer.units -= 1; renderLayerControls(); sendConfig();
    });
    const count = document.createElement("div");
    const word = document.createElement("span");
    word.className = "word";
    word.textContent = ` neuron${layer.units === 1 ? "" : "s"}`;
    count.append(String(layer.units), word);
    const select = document.createElement("select");
    select.setAttribute("aria-label", `Layer ${n} activation`);
    for (const [value, text] of Object.entries(ACTIVATION_NAMES)) select.add(new Option(text, value));
    select.value = layer.activation;
    select.addEventListener("change", () => { layer.activation = select.value; sendConfig(); });
    box.append(add, " ", remove, count, select);
    return box;
  });
  $("layer-controls").replaceChildren(...controls);
}

function button(text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

function showMessage(text) {
  $("message").textContent = text || "";
}

// ---------------------------------------------------------------------------------- the socket ----
function connect() {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  page.socket = socket;
  socket.addEventListener("open", () => {
    if (page.config.lesson) send({type: "lesson", name: page.config.lesson});  // its steps, then its settings
    else send({type: "config", config: page.config});
  });
  socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
  socket.addEventListener("close", () => {
    document.body.dataset.state = "disconnected";
    for (const id of ["play", "step", "reset", "explain"]) $(id).disabled = true;
    showMessage("Disconnected from the playground server: start `mlplab playground` again and reload this page.");
  });
}

function send(message) {
  if (page.socket && page.socket.readyState === WebSocket.OPEN) page.socket.send(JSON.stringify(message));
}

function receive(message) {
  switch (message.type) {
    case "hello":
      page.session = message.session;
      page.limits = message.limits;
      for (const [id, kind] of [["export-model", "model"], ["export-code", "code"], ["export-data", "data"],
                                ["export-onnx", "onnx"]]) {
        $(id).href = `/api/session/${message.session}/${kind}`;
      }
      for (const entry of message.lessons || []) $("lesson").add(new Option(entry.title, entry.name));
      if (page.config.lesson) $("lesson").value = page.config.lesson;
      break;
    case "lesson":
      page.lesson = message.lesson;
      openStep(Math.min(page.config.lesson === message.lesson.name ? page.config.lesson_step || 0 : 0,
                        message.lesson.steps.length - 1));
      break;
    case "data":
      page.data = message;
      page.config = Object.assign(structuredClone(message.config), {loss: message.config.loss});
      delete page.config.task;
      page.history = {epoch: [], train_loss: [], test_loss: [], train_accuracy: [], test_accuracy: [], gradients: []};
      showConfig(page.config);
      showLosses(message.task, message.config.loss);
      history.replaceState(null, "", "#" + encodeURIComponent(JSON.stringify(shareable(page.config))));
      buildDiagram();
      showLessonPanel();
      showTable(message);  // after the lesson panel: a table hides the feature boxes whatever the lesson says
      showMessage(page.pendingMessage || "");
      page.pendingMessage = null;
      for (const id of ["play", "step", "reset", "explain"]) $(id).disabled = false;
      break;
    case "update":
      update(message);
      break;
    case "status":
      page.playing = message.playing;
      $("play").setAttribute("aria-label", page.playing ? "Pause" : "Play");
      $("play-icon").textContent = page.playing ? "❚❚" : "▶";
      document.body.dataset.state = page.playing ? "playing" : "paused";
      break;
    case "explain":
      $("explain-text").textContent = message.text;
      break;
    case "error":
      showMessage(message.message);
      if ($("explain-dialog").open && $("explain-text").textContent === "Computing…") $("explain-text").textContent = message.message;
      if (page.data) {  // the server kept the last settings it accepted: show those again
        page.config = structuredClone(page.data.config);
        delete page.config.task;
        showConfig(page.config);
      } else if (!page.retried) {  // a link with settings the server refuses: start from the defaults instead
        page.retried = true;
        page.pendingMessage = `${message.message} The defaults are shown instead.`;
        page.config = structuredClone(DEFAULTS);
        showConfig(page.config);
        send({type: "config", config: page.config});
      }
      break;
  }
}

// ---------------------------------------------------------------------------------- updates ----
function update(message) {
  page.last = message;
  const h = page.history;
  if (h) {
    if (h.epoch.length && message.epoch <= h.epoch[h.epoch.length - 1]) {  // a reset, or the same epoch again
      const keep = h.epoch.map((e) => e < message.epoch);
      for (const key of Object.keys(h)) h[key] = h[key].filter((_, i) => keep[i]);
    }
    h.epoch.push(message.epoch);
    h.train_loss.push(message.train_loss); h.test_loss.push(message.test_loss);
    h.train_accuracy.push(message.train_accuracy); h.test_accuracy.push(message.test_accuracy);
    h.gradients.push(message.gradient_norms);
    if (h.epoch.length > MAX_HISTORY) for (const key of Object.keys(h)) h[key] = h[key].filter((_, i) => i % 2 === 0);
  }
  $("epoch").textContent = String(message.epoch);
  const number = (v) => v == null ? "" : v.toFixed(3);  // a readout's text is only its number
  $("train-loss").textContent = number(message.train_loss);
  $("test-loss").textContent = number(message.test_loss);
  $("train-accuracy").textContent = number(message.train_accuracy);
  $("test-accuracy").textContent = number(message.test_accuracy);
  document.body.dataset.epoch = message.epoch;
  drawOutput();
  drawNodes(message);
  drawCharts();
  showDoctor(message.doctor || []);
  if (message.lesson) showLessonNumbers(message.lesson);
}

// ---------------------------------------------------------------------------------- doctor ----
function showDoctor(findings) {
  const items = findings.map((f) => {
    const li = document.createElement("li");
    const strong = document.createElement("strong");
    strong.textContent = f.problem;
    li.append(strong, `: ${f.why} Try: ${f.fix}`);
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.textContent = page.last && page.last.epoch ? "No problem found: the gradients reach every layer and the units are alive."
                                                  : "Nothing to report yet: press Step or Play.";
    items.push(li);
  }
  $("doctor").replaceChildren(...items);
}

// ---------------------------------------------------------------------------------- lessons ----
function openStep(index) {
  const lesson = page.lesson;
  page.config = Object.assign(structuredClone(DEFAULTS), structuredClone(lesson.steps[index].config),
                              {lesson: lesson.name, lesson_step: index});
  $("lesson").value = lesson.name;
  showConfig(page.config);
  sendConfig();
}

function leaveLesson() {
  page.lesson = null;
  page.config.lesson = null; page.config.lesson_step = 0;
  $("lesson").value = "";
  sendConfig();
}

function hideControl(id, hidden) {
  const element = $(id);
  if (!element) return;
  element.hidden = hidden;
  for (const label of document.querySelectorAll(`label[for="${id}"]`)) label.hidden = hidden;
  const field = element.closest(".field") || (id === "batch-norm" ? $("batch-norm-field") : null);
  if (field) field.hidden = hidden;
  if (id === "upload") $("upload-limits").hidden = hidden;
}

const LESSON_CONTROLS = ["schedule", "regularization", "regularization-rate", "dropout", "batch-norm", "noise",
                         "n-samples", "seed", "upload", "click-class", "train-ratio", "dataset", "features"];

function showLessonPanel() {
  const lesson = page.data && page.data.config.lesson && page.lesson && page.lesson.name === page.data.config.lesson
    ? page.lesson : null;
  $("lesson-panel").hidden = !lesson;
  for (const id of LESSON_CONTROLS) hideControl(id, !!lesson && lesson.hide.includes(id));
  if (!lesson) return;
  const index = page.data.config.lesson_step, steps = lesson.steps;
  $("lesson-title").textContent = lesson.title;
  $("lesson-lecture").textContent = `Lecture: ${lesson.lecture}${lesson.topic ? ` — ${lesson.topic}` : ""}`;
  $("lesson-step-label").textContent = `Step ${index + 1} of ${steps.length}`;
  $("lesson-text").textContent = steps[index].text;
  $("lesson-outcome").textContent = "";
  $("lesson-outcome").dataset.reached = "no";  // a new step starts unreached
  $("lesson-previous").disabled = index === 0;
  $("lesson-next").disabled = index === steps.length - 1;
}

function formatNumber(value) {
  if (Array.isArray(value)) return value.map(formatNumber).join(", ");
  if (typeof value !== "number") return String(value);
  return Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(2) : String(+value.toPrecision(4));
}

function showLessonNumbers(live) {
  if (!page.lesson) return;
  const printed = Object.fromEntries(page.lesson.printed);
  const rows = live.live.map(([label, value]) => {
    const tr = document.createElement("tr");
    for (const text of [label, label in printed ? formatNumber(printed[label]) : "—", formatNumber(value)]) {
      const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
    }
    return tr;
  });
  $("lesson-numbers").tBodies[0].replaceChildren(...rows);
  const outcome = page.lesson.steps[page.data.config.lesson_step].outcome;
  const bound = "at_least" in outcome ? `≥ ${outcome.at_least}` : `≤ ${outcome.at_most}`;
  $("lesson-outcome").textContent = live.reached ? `Outcome reached: ${outcome.key.replace(/_/g, " ")} ${bound}.`
                                                 : `Goal: ${outcome.key.replace(/_/g, " ")} ${bound}.`;
  $("lesson-outcome").dataset.reached = live.reached ? "yes" : "no";
}

// ---------------------------------------------------------------------------------- tables ----
function showTable(data) {
  const table = data.table;
  $("slice").hidden = !table || data.features.length < 2;  // one column: the curve along it needs no slice
  const lessonHides = !!(data.config.lesson && page.lesson && page.lesson.hide.includes("features"));
  hideControl("features", table || lessonHides);
  if (!table) return;
  const names = data.features;
  for (const [id, key] of [["axis-x", "x"], ["axis-y", "y"]]) {
    const select = $(id);
    select.replaceChildren(...names.map((name, i) => new Option(name, String(i))));
    select.value = String(data.view[key]);
    select.disabled = id === "axis-y" && names.length < 2;
  }
  $("held").value = data.view.held; $("held-value").textContent = data.view.held;
}

function sendView(view) {
  send({type: "view", view});
}

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// colour for a value in [-1, 1]: orange (−1) through white (0) to blue (+1), as in TensorFlow Playground
function diverging(value) {
  const t = Math.max(-1, Math.min(1, value));
  const [r, g, b] = t < 0 ? CLASS_COLOURS[0] : CLASS_COLOURS[1];
  const a = Math.abs(t);
  return [255 + (r - 255) * a, 255 + (g - 255) * a, 255 + (b - 255) * a];
}

function toPixel(canvas, x1, x2) {
  const e = page.data.extent;
  return [(x1 + e) / (2 * e) * canvas.width, (e - x2) / (2 * e) * canvas.height];
}

function drawOutput() {
  const canvas = $("heatmap");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!page.data || !page.last) return;
  if (page.data.task === "regression") return drawCurve(ctx, canvas);
  const n = page.data.grid, output = page.last.output, discrete = $("discretize").checked;
  const image = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    let rgb;
    if (page.data.task === "binary") {
      let v = 2 * output[i] - 1;
      if (discrete) v = v > 0 ? 1 : -1;
      rgb = diverging(v * 0.8);
    } else {
      const cls = Math.floor(output[i]), confidence = output[i] - cls;
      const k = page.data.n_outputs, a = discrete ? 0.8 : 0.8 * Math.max(0, (confidence - 1 / k) / (1 - 1 / k));
      const c = CLASS_COLOURS[cls % CLASS_COLOURS.length];
      rgb = c.map((v) => 255 + (v - 255) * a);
    }
    image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
  }
  const small = document.createElement("canvas");
  small.width = n; small.height = n;
  small.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = !discrete;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  drawAxes(ctx, canvas);
  drawPoints(ctx, canvas, page.data.train, false);
  if ($("show-test").checked) drawPoints(ctx, canvas, page.data.test, true);
}

function drawAxes(ctx, canvas) {
  ctx.strokeStyle = "rgba(0,0,0,0.15)"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(canvas.width / 2, 0); ctx.lineTo(canvas.width / 2, canvas.height);
  ctx.moveTo(0, canvas.height / 2); ctx.lineTo(canvas.width, canvas.height / 2); ctx.stroke();
  ctx.fillStyle = "rgba(0,0,0,0.5)"; ctx.font = "10px sans-serif";
  const e = page.data.extent;
  ctx.fillText(`${-e}`, 2, canvas.height / 2 - 3); ctx.fillText(`${e}`, canvas.width - 12, canvas.height / 2 - 3);
  const [nx, ny] = page.data.table ? [page.data.features[page.data.view.x], page.data.features[page.data.view.y] || ""]
                                   : ["x1", "x2"];
  ctx.textAlign = "right"; ctx.fillText(`${nx} →`, canvas.width - 4, canvas.height / 2 + 12); ctx.textAlign = "left";
  ctx.fillText(`${ny} ↑`, canvas.width / 2 + 4, 10);
}

function drawPoints(ctx, canvas, points, test) {
  for (const [x1, x2, label] of points) {
    const [px, py] = toPixel(canvas, x1, x2);
    const c = CLASS_COLOURS[Math.round(label) % CLASS_COLOURS.length];
    ctx.beginPath(); ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`; ctx.fill();
    ctx.lineWidth = test ? 1.5 : 0.8; ctx.strokeStyle = test ? "#000" : "#fff"; ctx.stroke();
  }
}

function curveRange() {
  const ys = page.data.train.concat(page.data.test).map((p) => p[2]);
  const lo = Math.min(...ys), hi = Math.max(...ys), pad = 0.1 * (hi - lo || 1);
  return [lo - pad, hi + pad];
}

function drawCurve(ctx, canvas) {
  const [lo, hi] = curveRange(), e = page.data.extent;
  const px = (x) => (x + e) / (2 * e) * canvas.width, py = (y) => (hi - y) / (hi - lo) * canvas.height;
  ctx.strokeStyle = "rgba(0,0,0,0.15)";
  ctx.beginPath(); ctx.moveTo(0, py(0)); ctx.lineTo(canvas.width, py(0)); ctx.stroke();
  const plot = (points, test) => {
    for (const [x1, , y] of points) {
      ctx.beginPath(); ctx.arc(px(x1), py(y), 3, 0, 2 * Math.PI);
      ctx.fillStyle = test ? "#fff" : "rgb(8,119,189)"; ctx.fill();
      ctx.strokeStyle = test ? "#000" : "#fff"; ctx.stroke();
    }
  };
  plot(page.data.train, false);
  if ($("show-test").checked) plot(page.data.test, true);
  const values = page.last.output;
  ctx.strokeStyle = "rgb(245,147,34)"; ctx.lineWidth = 2.5; ctx.beginPath();
  values.forEach((y, i) => {
    const x = -e + 2 * e * i / (values.length - 1);
    if (y == null) return;
    if (i === 0) ctx.moveTo(px(x), py(y)); else ctx.lineTo(px(x), py(y));
  });
  ctx.stroke(); ctx.lineWidth = 1;
  ctx.fillStyle = "rgba(0,0,0,0.6)"; ctx.font = "10px sans-serif";
  const name = page.data.table ? page.data.features[page.data.view.x] : "x1";
  ctx.fillText(`${name} →   points: data, orange line: the network's prediction`, 4, canvas.height - 4);
}

function addPoint(event) {
  if (!page.data) return;
  if (page.data.table) return showMessage("Clicking adds points only to data of two columns (x1, x2); this table has " +
                                          `${page.data.features.length}.`);
  const canvas = $("heatmap"), rect = canvas.getBoundingClientRect(), e = page.data.extent;
  const fx = (event.clientX - rect.left) / rect.width, fy = (event.clientY - rect.top) / rect.height;
  const x1 = -e + 2 * e * fx;
  let point;
  if (page.data.task === "regression") {
    const [lo, hi] = curveRange();
    point = [x1, 0, hi - (hi - lo) * fy];
  } else {
    point = [x1, e - 2 * e * fy, +$("click-class").value];
  }
  const round = (v) => Math.round(v * 1000) / 1000;
  const points = page.config.dataset === "custom" ? page.config.points.slice() : page.data.train.concat(page.data.test);
  if (points.length >= 2000) return showMessage("At most 2000 points.");
  points.push(point.map(round));
  page.config.points = points;
  page.config.dataset = "custom";
  page.config.loss = "auto";
  sendConfig();
}

// ---------------------------------------------------------------------------------- network diagram ----
// The diagram's geometry, scaled so the largest network (8 layers of 32) fits the column whole.
let NODE = 36, COLUMN = 110, ROW = 44, LEFT = 52;
const MAX_DIAGRAM_HEIGHT = 400;

function fitGeometry(sizes) {
  const scale = document.body.classList.contains("presentation") ? 1.25 : 1;
  const available = Math.max(200, $("diagram").clientWidth || 400);
  LEFT = 52;
  COLUMN = Math.min(110 * scale, (available - LEFT - 60) / Math.max(1, sizes.length - 1));  // 60: the output label
  const controls = $("layer-controls");  // laid out first: their height moves the diagram's top
  controls.style.setProperty("--column", `${COLUMN}px`);
  controls.classList.toggle("narrow", COLUMN < 80);
  const top = $("diagram").getBoundingClientRect().top + window.scrollY;  // fit the window's height too
  const room = Math.max(200, Math.min(MAX_DIAGRAM_HEIGHT * scale, window.innerHeight - top - 16));
  ROW = Math.min(44 * scale, room / Math.max(...sizes));
  NODE = Math.max(6, Math.min(36 * scale, ROW - 4, COLUMN * 0.4));
  controls.style.paddingLeft = `${Math.max(0, LEFT + COLUMN + NODE / 2 - COLUMN / 2)}px`;
}

function columns() {
  return [page.data.features.length, ...page.data.config.layers.map((l) => l.units), page.data.n_outputs];
}

function nodePosition(column, row, count, height) {
  const top = (height - count * ROW) / 2;
  return [LEFT + column * COLUMN, top + row * ROW + (ROW - NODE) / 2];
}

function buildDiagram() {
  const diagram = $("diagram");
  const sizes = columns();
  fitGeometry(sizes);
  const height = Math.max(...sizes) * ROW + 8, width = LEFT + (sizes.length - 1) * COLUMN + NODE + 10;
  diagram.style.height = `${height}px`;
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("width", width); svg.setAttribute("height", height);
  page.links = [];
  for (let c = 0; c + 1 < sizes.length; c++) {
    const layer = [];
    for (let i = 0; i < sizes[c]; i++) {
      const row = [];
      for (let j = 0; j < sizes[c + 1]; j++) {
        const [x0, y0] = nodePosition(c, i, sizes[c], height), [x1, y1] = nodePosition(c + 1, j, sizes[c + 1], height);
        const path = document.createElementNS(svgNS, "path");
        const ax = x0 + NODE, ay = y0 + NODE / 2, bx = x1, by = y1 + NODE / 2, mx = (ax + bx) / 2;
        path.setAttribute("d", `M${ax},${ay} C${mx},${ay} ${mx},${by} ${bx},${by}`);
        path.setAttribute("class", "link");
        const title = document.createElementNS(svgNS, "title");
        path.appendChild(title);
        svg.appendChild(path);
        row.push(path);
      }
      layer.push(row);
    }
    page.links.push(layer);
  }
  const parts = [svg];
  page.nodes = sizes.map((count, c) => {
    const list = [];
    for (let i = 0; i < count; i++) {
      const [x, y] = nodePosition(c, i, count, height);
      const canvas = document.createElement("canvas");
      canvas.className = "node";
      canvas.width = page.data.neuron_grid; canvas.height = page.data.neuron_grid;
      canvas.style.left = `${x}px`; canvas.style.top = `${y}px`;
      canvas.style.width = `${NODE}px`; canvas.style.height = `${NODE}px`;
      if (c > 0) { canvas.tabIndex = 0; canvas.setAttribute("role", "img"); }  // focus shows its formula too
      const last = c === sizes.length - 1;
      canvas.title = c === 0 ? `input feature ${page.data.features[i]}` : last ? `output ${i}` : `layer ${c}, neuron ${i + 1}`;
      parts.push(canvas);
      list.push(canvas);
      if (c === 0 || last) {
        const label = document.createElement("div");
        label.className = "node-label";
        label.textContent = c === 0 ? page.data.features[i] : (page.data.task === "multiclass" ? `class ${i}` : "output");
        label.style.left = c === 0 ? `${x - 48}px` : `${x + NODE + 4}px`;
        label.style.textAlign = c === 0 ? "right" : "left";
        label.style.top = `${y + NODE / 2 - 7}px`;
        parts.push(label);
      }
    }
    return list;
  });
  diagram.replaceChildren(...parts);
}

function drawNodes(message) {
  if (!page.nodes) return;
  message.neurons.forEach((column, c) => column.forEach((encoded, i) => {
    const canvas = page.nodes[c] && page.nodes[c][i];
    if (!canvas) return;
    const bytes = Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0));
    const ctx = canvas.getContext("2d"), image = ctx.createImageData(canvas.width, canvas.height);
    bytes.forEach((b, k) => {
      const rgb = diverging(b / 127.5 - 1);
      image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * k);
    });
    ctx.putImageData(image, 0, 0);
  }));
  const outputs = page.nodes[page.nodes.length - 1];
  outputs.forEach((canvas, i) => {  // the output node shows the output heatmap itself, shrunk
    const ctx = canvas.getContext("2d");
    if (page.data.task === "multiclass") {
      const c = CLASS_COLOURS[i % CLASS_COLOURS.length];
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`; ctx.fillRect(0, 0, canvas.width, canvas.height);
    } else {
      ctx.drawImage($("heatmap"), 0, 0, canvas.width, canvas.height);
    }
  });
  message.weights.forEach((matrix, c) => {
    const layer = page.links[c];
    if (!layer) return;
    let maxAbs = 1e-9;
    for (const row of matrix) for (const w of row) maxAbs = Math.max(maxAbs, Math.abs(w));
    matrix.forEach((row, i) => row.forEach((w, j) => {
      const path = layer[i] && layer[i][j];
      if (!path) return;
      path.setAttribute("stroke", w >= 0 ? "#0877bd" : "#f59322");
      path.setAttribute("stroke-width", (Math.max(0.25, (0.4 + 5 * Math.abs(w) / maxAbs) * NODE / 36)).toFixed(2));
      path.setAttribute("stroke-opacity", "0.75");
      path.firstChild.textContent = `weight ${w.toFixed(4)} (from ${c === 0 ? page.data.features[i] : `layer ${c} neuron ${i + 1}`})`;
    }));
  });
  showFormulas(message);
}

// The formula of every neuron with its actual weights, shown when hovered (title) or focused (label).
function showFormulas(message) {
  const layers = page.data.config.layers, task = page.data.task;
  const output = task === "binary" ? "sigmoid" : task === "multiclass" ? "softmax" : "linear";
  message.weights.forEach((matrix, c) => {
    const targets = page.nodes[c + 1];
    if (!targets) return;
    const inputs = c === 0 ? page.data.features : matrix.map((_, i) => `h${c}.${i + 1}`);
    const activation = c < layers.length ? layers[c].activation : output;
    targets.forEach((canvas, j) => {
      const terms = matrix.map((row, i) => `${row[j] < 0 ? "− " : "+ "}${Math.abs(row[j]).toFixed(2)}·${inputs[i]}`);
      const shown = terms.length > 8 ? terms.slice(0, 8).concat([`… (${terms.length} inputs)`]) : terms;
      const bias = message.biases ? message.biases[c][j] : 0;
      let body = shown.join(" ").replace(/^\+ /, "");
      body += ` ${bias < 0 ? "−" : "+"} ${Math.abs(bias).toFixed(2)}`;
      const name = c + 1 === page.nodes.length - 1 ? (task === "multiclass" ? `output ${j}` : "output")
                                                   : `layer ${c + 1}, neuron ${j + 1}`;
      const norm = page.data.config.batch_norm && c < layers.length ? "batchnorm" : "";
      const formula = `${name} = ${activation}(${norm ? `${norm}(` : ""}${body}${norm ? ")" : ""})`;
      canvas.title = formula;
      canvas.setAttribute("aria-label", formula);
    });
  });
}

// ---------------------------------------------------------------------------------- charts ----
function drawChart(canvas, series, {log = false, fixed = null} = {}) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const epochs = page.history.epoch;
  if (epochs.length < 1) return;
  const values = series.flatMap((s) => s.values).filter((v) => v != null && isFinite(v) && (!log || v > 0));
  if (!values.length) return;
  const f = log ? Math.log10 : (v) => v;
  let lo = fixed ? fixed[0] : f(Math.min(...values)), hi = fixed ? fixed[1] : f(Math.max(...values));
  if (!fixed && !log) lo = Math.min(lo, 0);
  if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  const e0 = epochs[0], e1 = Math.max(epochs[epochs.length - 1], e0 + 1);
  const px = (e) => 30 + (e - e0) / (e1 - e0) * (w - 34), py = (v) => 4 + (hi - f(v)) / (hi - lo) * (h - 16);
  ctx.fillStyle = "#888"; ctx.font = "9px sans-serif";
  const fmt = (v) => log ? `1e${Math.round(v)}` : v.toPrecision(2);
  ctx.fillText(fmt(hi), 0, 10); ctx.fillText(fmt(lo), 0, h - 12); ctx.fillText(`epoch ${e1}`, w - 52, h - 1);
  for (const s of series) {
    ctx.strokeStyle = s.colour; ctx.lineWidth = 1.5; ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let started = false;
    s.values.forEach((v, i) => {
      if (v == null || !isFinite(v) || (log && v <= 0)) return;
      if (!started) { ctx.moveTo(px(epochs[i]), py(v)); started = true; } else ctx.lineTo(px(epochs[i]), py(v));
    });
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

const LAYER_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#000"];

function drawCharts() {
  const h = page.history;
  drawChart($("loss-chart"), [{values: h.train_loss, colour: "#333"}, {values: h.test_loss, colour: "#0877bd", dash: [4, 3]}]);
  drawChart($("accuracy-chart"), [{values: h.train_accuracy, colour: "#333"}, {values: h.test_accuracy, colour: "#0877bd", dash: [4, 3]}], {fixed: [0, 1]});
  const n = h.gradients.length ? h.gradients[h.gradients.length - 1].length : 0;
  const series = [];
  for (let l = 0; l < n; l++) series.push({values: h.gradients.map((g) => g[l]), colour: LAYER_COLOURS[l % LAYER_COLOURS.length]});
  drawChart($("gradient-chart"), series, {log: true});
  const legend = series.map((s, l) => {
    const span = document.createElement("span");
    span.style.setProperty("--c", s.colour);
    span.textContent = l === n - 1 ? "output" : `layer ${l + 1}`;
    return span;
  });
  if ($("gradient-legend").childElementCount !== legend.length) $("gradient-legend").replaceChildren(...legend);
}

// ---------------------------------------------------------------------------------- start ----
page.config = loadConfig();
wireControls();
showConfig(page.config);
connect();

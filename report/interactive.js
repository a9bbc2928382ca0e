// The report's interactive parts, inlined into report.html by report/document.py.
// Each <div data-widget="KIND"> holds its numbers as JSON (a <script type="application/json">
// child); the function of that KIND below draws it. Plain DOM, no library and no network,
// so the page works offline and from a file:// URL.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function fixed(x, digits) {
  return x === null ? "0" : x.toFixed(digits);
}

// A probability from its log10 (null: the model gave the token probability 0).
function prob(log10) {
  if (log10 === null) return "0";
  const p = Math.pow(10, log10);
  return p >= 1e-4 ? p.toFixed(6) : p.toExponential(4);
}

// Click a word of the sentence: row t of every head's attention matrix, layer by layer.
function attentionWidget(root, data) {
  const words = el("div", {class: "tokens"});
  const panel = el("div", {class: "panel"}, el("p", {class: "hint", text: "Click a word to see what each head attends to from it."}));
  data.tokens.forEach((token, t) => {
    const b = el("button", {class: "token", "data-pos": String(t), text: token});
    b.addEventListener("click", () => {
      words.querySelectorAll(".token").forEach(x => x.classList.toggle("selected", x === b));
      panel.replaceChildren(...attentionRows(data, t));
    });
    words.append(b);
  });
  root.append(words, panel);
}

function attentionRows(data, t) {
  const out = [el("p", {text: `Position ${t} ("${data.tokens[t]}") attends to positions 0–${t}; each row sums to 1 ` +
                              "(the causal mask gives later positions weight 0)."})];
  data.weights.forEach((layer, l) => {
    const head = el("tr", {}, el("th", {text: `layer ${l + 1}`}),
                    ...data.tokens.slice(0, t + 1).map(w => el("th", {text: w})));
    const rows = layer.map((rowsOfHead, h) => {
      const row = rowsOfHead[t];
      return el("tr", {}, el("th", {text: `head ${h + 1}`}), ...row.map((w, s) => {
        const cell = el("td", {class: "weight", "data-layer": String(l + 1), "data-head": String(h + 1),
                               "data-pos": String(s), text: w.toFixed(4)});
        cell.style.background = `rgba(31, 119, 180, ${Math.min(1, w).toFixed(3)})`;
        if (w > 0.5) cell.style.color = "#fff";
        return cell;
      }));
    });
    out.push(el("table", {class: "attention"}, el("thead", {}, head), el("tbody", {}, ...rows)));
  });
  if (data.command) out.push(el("p", {class: "hint", text: "Every weight worked out: " + data.command}));
  return out;
}

// Hover (or focus, or tap) a word of a test sentence: the n-gram's backoff path and every model's P.
function wordsWidget(root, data) {
  const panel = el("div", {class: "panel"}, el("p", {class: "hint", text: "Hover a word to see how " +
    data.reference + " computes its probability, and what every model gives it."}));
  data.sentences.forEach((sentence, i) => {
    const line = el("p", {class: "sentence"});
    sentence.tokens.forEach((token, t) => {
      const w = el("span", {class: "word" + (sentence.oov[t] ? " oov" : ""), tabindex: "0",
                            "data-sentence": String(i), "data-pos": String(t), text: token});
      if (sentence.oov[t]) w.title = "a word outside the vocabulary, read as <unk>";
      const show = () => {
        root.querySelectorAll(".word").forEach(x => x.classList.toggle("selected", x === w));
        panel.replaceChildren(...wordDetails(data, sentence, t));
      };
      w.addEventListener("mouseenter", show);
      w.addEventListener("focus", show);
      w.addEventListener("click", show);
      line.append(w, " ");
    });
    root.append(line);
  });
  root.append(panel);
}

function wordDetails(data, sentence, t) {
  const path = sentence.paths[t];
  const steps = path.levels.map(level => el("li", {class: "level", "data-order": String(level.order)},
    el("span", {class: "what", text: level.label}), " = ", el("span", {class: "p", text: level.p}),
    el("span", {class: "how", text: level.how ? "  (" + level.how + ")" : ""})));
  const rows = data.models.map((name, m) => {
    const log10 = sentence.log10[m][t];
    return el("tr", {"data-model": name, class: name === data.reference ? "reference" : ""}, el("td", {text: name}), el("td", {class: "p", text: prob(log10)}),
              el("td", {class: "log10", text: log10 === null ? "-inf" : log10.toFixed(6)}));
  });
  return [
    el("p", {}, el("b", {text: `"${sentence.tokens[t]}"`}),
       document.createTextNode(sentence.oov[t] ? " is out of the vocabulary: every model predicts <unk> here." : "")),
    el("p", {text: `Backoff path of ${data.reference}, from the longest context down:`}),
    el("ol", {class: "path"}, ...steps),
    el("details", {}, el("summary", {text: "every term, as 'perplex explain ngram' prints it"}),
       el("pre", {class: "worked", text: path.worked})),
    el("table", {class: "models"}, el("thead", {}, el("tr", {}, el("th", {text: "model"}),
       el("th", {text: "P(word | history)"}), el("th", {text: "log10 P"}))), el("tbody", {}, ...rows)),
  ];
}

// Search the embedding map for a word: the map zooms onto it and its nearest neighbours by cosine.
function mapWidget(root, data) {
  const NS = "http://www.w3.org/2000/svg";
  const W = 860, H = 560, pad = 30, onMap = data.xy.length;
  const xs = data.xy.map(p => p[0]), ys = data.xy.map(p => p[1]);
  const whole = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const svgEl = (tag, attrs, text) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const svg = svgEl("svg", {viewBox: `0 0 ${W} ${H}`, class: "map", role: "img"});

  // Draw the words inside view = [x0, x1, y0, y1]: every dot, the most frequent ones labelled
  // (more of them when zoomed in), then the query and its neighbours on top.
  const draw = (view, query) => {
    // One scale for both axes, so that distances on the map are not stretched one way.
    const [x0, x1, y0, y1] = view;
    const scale = Math.min((W - 2 * pad) / ((x1 - x0) || 1), (H - 2 * pad) / ((y1 - y0) || 1));
    const mx = (W - scale * (x1 - x0)) / 2, my = (H - scale * (y1 - y0)) / 2;
    const sx = x => mx + (x - x0) * scale;
    const sy = y => H - my - (y - y0) * scale;
    const inside = ([x, y]) => sx(x) >= 0 && sx(x) <= W && sy(y) >= 0 && sy(y) <= H;
    const dots = svgEl("g", {fill: "#9ab"}), labels = svgEl("g", {class: "labels"}), marks = svgEl("g", {class: "marks"});
    const zoomed = view !== whole;
    let labelled = 0;
    data.xy.forEach((p, i) => {
      if (!inside(p)) return;
      dots.append(svgEl("circle", {cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 1.6}));
      if (labelled < (zoomed ? 120 : data.labelled)) {
        labels.append(svgEl("text", {x: (sx(p[0]) + 3).toFixed(1), y: (sy(p[1]) - 3).toFixed(1)}, data.words[i]));
        labelled++;
      }
    });
    if (query !== undefined) {
      const [qx, qy] = data.xy[query];
      const mark = (j, cls) => {
        const [x, y] = data.xy[j];
        const g = svgEl("g", {class: cls, "data-word": data.words[j]});
        if (cls === "neighbour") g.append(svgEl("line", {x1: sx(qx).toFixed(1), y1: sy(qy).toFixed(1),
                                                          x2: sx(x).toFixed(1), y2: sy(y).toFixed(1)}));
        g.append(svgEl("circle", {cx: sx(x).toFixed(1), cy: sy(y).toFixed(1), r: cls === "query" ? 5 : 3.5}),
                 svgEl("text", {x: (sx(x) + 6).toFixed(1), y: (sy(y) - 6).toFixed(1)}, data.words[j]));
        marks.append(g);
      };
      data.neighbours[query].forEach(([j]) => { if (j < onMap) mark(j, "neighbour"); });
      mark(query, "query");
    }
    svg.replaceChildren(dots, labels, marks);
  };

  // The smallest view holding the query and its neighbours on the map, padded.
  const around = query => {
    const points = [query, ...data.neighbours[query].map(([j]) => j).filter(j => j < onMap)].map(j => data.xy[j]);
    const span = (lo, hi, full) => {
      const half = Math.max((hi - lo) * 0.6, full * 0.05);
      return [(lo + hi) / 2 - half, (lo + hi) / 2 + half];
    };
    const px = points.map(p => p[0]), py = points.map(p => p[1]);
    return [...span(Math.min(...px), Math.max(...px), whole[1] - whole[0]),
            ...span(Math.min(...py), Math.max(...py), whole[3] - whole[2])];
  };

  const index = new Map(data.words.map((w, i) => [w, i]));
  const input = el("input", {type: "search", class: "search", placeholder: "a word, e.g. " + data.words[0],
                             "aria-label": "word to find on the map"});
  const reset = el("button", {class: "suggestion", text: "whole map"});
  const result = el("div", {class: "panel"});
  const find = () => {
    const word = input.value.trim();
    const i = index.get(word);
    if (!word || i === undefined || i >= onMap) {
      draw(whole);
      if (!word) { result.replaceChildren(); return; }
      const near = data.words.slice(0, onMap).filter(w => w.startsWith(word)).slice(0, 10);
      result.replaceChildren(el("p", {class: "missing", text: `"${word}" is not among the ${onMap} words ` +
        "of the map (the most frequent). " + (near.length ? "Words of the map that start so:" :
        `'perplex similar ${word} --vectors ${data.vectors}' asks the whole vocabulary.`)}),
        ...near.map(w => { const b = el("button", {class: "suggestion", text: w});
                           b.addEventListener("click", () => { input.value = w; find(); }); return b; }));
      return;
    }
    draw(around(i), i);
    const items = data.neighbours[i].map(([j, cos]) => el("li", {"data-word": data.words[j]},
      el("span", {class: "w", text: data.words[j]}), " ", el("span", {class: "cos", text: cos.toFixed(4)}),
      el("span", {class: "hint", text: j < onMap ? "" : " (not on the map)"})));
    result.replaceChildren(el("p", {text: `Nearest neighbours of "${word}" by cosine similarity over the whole ` +
                                          "vocabulary (itself left out):"}),
                           el("ol", {class: "neighbours"}, ...items));
  };
  input.addEventListener("input", find);
  input.addEventListener("keydown", e => { if (e.key === "Enter") find(); });
  reset.addEventListener("click", () => { input.value = ""; find(); });
  draw(whole);
  root.append(el("p", {}, input, " ", reset), svg, result);
}

const WIDGETS = {attention: attentionWidget, words: wordsWidget, map: mapWidget};

document.querySelectorAll("[data-widget]").forEach(root => {
  const data = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  WIDGETS[root.dataset.widget](root, data);
});

#!/usr/bin/env node
// A reader of the SimpleRNN conformance fixtures in plain Node (no npm dependencies).
//
//   node reader.js FIXTURE_DIR [--format json|npy] [--no-verify] [--verbose]
//
// It checks the folder against checksums.sha256, then, for every case it can
// play, recomputes the SimpleRNN forward pass in float64 and compares it with
// the expected values under the case's tolerance:
//
//   h_t = activation(x_t . kernel + h_{t-1} . recurrent_kernel + bias)
//
// with activations tanh, relu, sigmoid, linear (and null), masks (a masked step
// keeps the state and repeats the previous output), go_backwards,
// return_sequences, return_state and initial_state. Cases with other steps
// (get_config, stateful layers, dropout in training, expected exceptions, ...)
// are skipped and counted. Exit status: 0 when every checked case conforms and
// the checksums hold, 1 otherwise, 2 for a usage error.
//
// This file is an example for implementers: replace `forward` with a call
// into your own implementation.

"use strict";

const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

// ---------------------------------------------------------------- reading arrays

function parseJsonNumber(v) {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  if (typeof v === "boolean") return v ? 1 : 0;
  return v;
}

function readJsonArray(file) {
  const spec = JSON.parse(fs.readFileSync(file, "utf8"));
  return { shape: spec.shape, dtype: spec.dtype, data: Float64Array.from(spec.data.map(parseJsonNumber)) };
}

function halfToFloat(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * Math.pow(2, -14) * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * Math.pow(2, exp - 15) * (1 + frac / 1024);
}

// .npy format 1.0 / 2.0: magic, version, header length, a Python-dict header, then the raw data.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt8(0) !== 0x93 || buf.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${file}: not a .npy file`);
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString("latin1", start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const view = new DataView(buf.buffer, buf.byteOffset + start + headerLen);
  const data = new Float64Array(count);
  const readers = {
    "<f8": [8, (o) => view.getFloat64(o, true)],
    "<f4": [4, (o) => view.getFloat32(o, true)],
    "<f2": [2, (o) => halfToFloat(view.getUint16(o, true))],
    "|b1": [1, (o) => view.getUint8(o)],
    "|u1": [1, (o) => view.getUint8(o)],
    "|i1": [1, (o) => view.getInt8(o)],
    "<i2": [2, (o) => view.getInt16(o, true)],
    "<i4": [4, (o) => view.getInt32(o, true)],
    "<i8": [8, (o) => Number(view.getBigInt64(o, true))],
  };
  if (!(descr in readers)) throw new Error(`${file}: dtype ${descr} is not supported`);
  const [size, read] = readers[descr];
  for (let i = 0; i < count; i++) data[i] = read(i * size);
  return { shape, data };
}

// Replace every {"__array__": {...}} in a manifest value by {shape, dtype, data}.
function resolveArrays(value, caseDir, format) {
  if (Array.isArray(value)) return value.map((v) => resolveArrays(v, caseDir, format));
  if (value && typeof value === "object") {
    if (value.__array__) {
      const ref = value.__array__;
      if (!ref.npy) return { __array: true, shape: ref.shape, dtype: ref.dtype, data: null }; // not stored: not compared
      const loaded = format === "npy" ? readNpy(path.join(caseDir, ref.npy)) : readJsonArray(path.join(caseDir, ref.json));
      return { __array: true, shape: ref.shape, dtype: ref.dtype, data: loaded.data };
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveArrays(v, caseDir, format);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------- checksums

function verifyChecksums(dir) {
  const problems = [];
  const listed = fs.readFileSync(path.join(dir, "checksums.sha256"), "ascii").split("\n").filter((l) => l);
  for (const line of listed) {
    const digest = line.slice(0, 64);
    const rel = line.slice(66);
    const file = path.join(dir, ...rel.split("/"));
    if (!fs.existsSync(file)) { problems.push(`missing: ${rel}`); continue; }
    const actual = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    if (actual !== digest) problems.push(`checksum differs: ${rel}`);
  }
  return problems;
}

// ---------------------------------------------------------------- the layer

const ACTIVATIONS = {
  tanh: Math.tanh,
  relu: (x) => Math.max(x, 0),
  linear: (x) => x,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
};

function activationOf(config) {
  let a = config.activation === undefined ? "tanh" : config.activation;
  if (a === null) a = "linear";
  if (a && typeof a === "object" && "callable" in a) a = a.callable;
  return typeof a === "string" && ACTIVATIONS[a] ? ACTIVATIONS[a] : null;
}

// The forward pass. x: {shape [B, T, F], data}; weights: [kernel F x U, recurrent U x U, bias U?].
// maskedBeforeFirst: "zeros" or "initial_state", what a masked step emits before the first unmasked one.
function forward(config, weights, x, mask, initialState, maskedBeforeFirst) {
  const [B, T, F] = x.shape;
  const U = config.units;
  const act = activationOf(config);
  const [kernel, recurrent, bias] = weights;
  const useBias = config.use_bias !== false;
  const h = new Float64Array(B * U);
  if (initialState) h.set(initialState.data);
  const out = maskedBeforeFirst === "initial_state" ? Float64Array.from(h) : new Float64Array(B * U);
  const sequence = [];
  const order = [...Array(T).keys()];
  if (config.go_backwards) order.reverse();
  for (const t of order) {
    const candidate = new Float64Array(B * U);
    for (let b = 0; b < B; b++) {
      for (let u = 0; u < U; u++) {
        let z = useBias ? bias.data[u] : 0;
        for (let f = 0; f < F; f++) z += x.data[(b * T + t) * F + f] * kernel.data[f * U + u];
        for (let k = 0; k < U; k++) z += h[b * U + k] * recurrent.data[k * U + u];
        candidate[b * U + u] = act(z);
      }
    }
    for (let b = 0; b < B; b++) {
      const keep = !mask || mask.data[b * T + t] !== 0;
      if (!keep) continue;
      for (let u = 0; u < U; u++) {
        h[b * U + u] = candidate[b * U + u];
        out[b * U + u] = candidate[b * U + u];
      }
    }
    sequence.push(Float64Array.from(out));
  }
  let output;
  if (config.return_sequences) {
    const data = new Float64Array(B * T * U);
    sequence.forEach((step, i) => {
      for (let b = 0; b < B; b++) for (let u = 0; u < U; u++) data[(b * T + i) * U + u] = step[b * U + u];
    });
    output = { shape: [B, T, U], data };
  } else {
    output = { shape: [B, U], data: out };
  }
  const result = [output];
  if (config.return_state) result.push({ shape: [B, U], data: h });
  return result;
}

// ---------------------------------------------------------------- comparing

function compareArrays(actual, expected, tolerance) {
  if (JSON.stringify(actual.shape) !== JSON.stringify(expected.shape)) {
    return `shape [${actual.shape}], expected [${expected.shape}]`;
  }
  const tol = tolerance.by_dtype[expected.dtype] || tolerance.by_dtype.float32;
  let bad = 0;
  let first = null;
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i];
    const a = actual.data[i];
    let ok;
    if (Number.isNaN(e) || Number.isNaN(a)) ok = Number.isNaN(e) && Number.isNaN(a);
    else if (!Number.isFinite(e) || !Number.isFinite(a)) ok = e === a;
    else ok = Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e);
    if (!ok) {
      bad++;
      if (first === null) first = `at flat index ${i}: expected ${e}, got ${a}`;
    }
  }
  return bad ? `${bad} of ${expected.data.length} values differ (rtol ${tol.rtol}, atol ${tol.atol}); first ${first}` : null;
}

function compareValue(actual, expected, tolerance) {
  if (!Array.isArray(expected) || expected.length !== actual.length) {
    return `expected ${Array.isArray(expected) ? expected.length : "a non-list"} outputs, got ${actual.length}`;
  }
  for (let i = 0; i < expected.length; i++) {
    const problem = compareArrays(actual[i], expected[i], tolerance);
    if (problem) return `output ${i}: ${problem}`;
  }
  return null;
}

// ---------------------------------------------------------------- playing a case

const PLAYED = new Set(["create", "build", "set_weights", "call", "count_params", "get_weights"]);
// Steps that leave the layer as it is: not checked by this reader, but no reason to skip the case.
const PASSIVE = new Set(["get_config", "compute_output_shape", "compute_mask", "get_property", "losses", "from_config"]);

class Skip extends Error {}

function playCase(manifest, caseDir, format) {
  const config = manifest.config;
  const why = unsupportedConfig(config);
  if (why) throw new Skip(why);
  const steps = manifest.steps.filter((step) => !PASSIVE.has(step.op));
  for (const step of steps) {
    if (!PLAYED.has(step.op)) throw new Skip(`step ${step.op} is not played by this reader`);
    const outcomes = [step.expected, ...(step.any_of || []).map((o) => o.expected)];
    if (outcomes.some((o) => o.outcome !== "value")) throw new Skip(`step ${step.index} expects ${step.expected.outcome}`);
  }
  let layerConfig = config;
  let weights = null;
  let checked = 0;
  for (const step of steps) {
    const args = resolveArrays(step.args, caseDir, format);
    if (step.op === "create") {
      layerConfig = args.layer;
      const again = unsupportedConfig(layerConfig);
      if (again) throw new Skip(again);
      weights = null;
    } else if (step.op === "build") {
      // Shapes only: the weights a build draws are random, so a case must set them to be played.
    } else if (step.op === "set_weights") {
      weights = args.weights;
    } else if (step.op === "count_params") {
      if (!weights) throw new Skip("count_params before the weights are known");
      const count = weights.reduce((n, w) => n + w.data.length, 0);
      if (count !== step.expected.value) return `step ${step.index} (count_params): ${count}, expected ${step.expected.value}`;
      checked++;
    } else if (step.op === "get_weights") {
      if (!weights || step.expected.compare === false) throw new Skip("get_weights of initializer-drawn weights");
      const expected = resolveArrays(step.expected.value, caseDir, format);
      const problem = compareValue(weights, expected, manifest.tolerance);
      if (problem) return `step ${step.index} (get_weights): ${problem}`;
      checked++;
    } else if (step.op === "call") {
      if (!weights) throw new Skip("the weights come from random initializers");
      if (args.training && (layerConfig.dropout || layerConfig.recurrent_dropout)) throw new Skip("dropout in training");
      // Every acceptable outcome: the default, and each implementation-defined variant.
      const options = step.any_of
        ? step.any_of.map((o) => ({ name: o.variant, choices: o.reference_choices || {}, expected: o.expected }))
        : [{ name: null, choices: {}, expected: step.expected }];
      if (options.some((o) => o.expected.compare === false)) throw new Skip("random values, not compared");
      const problems = [];
      for (const option of options) {
        const before = option.choices.masked_output_before_first_step || "zeros";
        const actual = forward(layerConfig, weights, args.inputs, args.mask, args.initial_state && args.initial_state[0], before);
        const expected = resolveArrays(option.expected.value, caseDir, format);
        const problem = compareValue(actual, expected, manifest.tolerance);
        if (!problem) { problems.length = 0; break; }
        problems.push(option.name ? `[${option.name}] ${problem}` : problem);
      }
      if (problems.length) return `step ${step.index} (call): ${problems.join("; ")}`;
      checked++;
    }
  }
  if (!checked) throw new Skip("no step with a value this reader checks");
  return null;
}

function unsupportedConfig(config) {
  if (!activationOf(config)) return `activation ${JSON.stringify(config.activation)}`;
  if (config.stateful) return "stateful";
  const dtype = config.dtype && typeof config.dtype === "object" ? (config.dtype.config || {}).name : config.dtype;
  if (dtype && dtype !== "float32" && dtype !== "float64") return `dtype ${dtype}`;
  return null;
}

// ---------------------------------------------------------------- main

function main(argv) {
  const options = { format: "json", verify: true, verbose: false };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--format") options.format = argv[++i];
    else if (argv[i] === "--no-verify") options.verify = false;
    else if (argv[i] === "--verbose") options.verbose = true;
    else positional.push(argv[i]);
  }
  if (positional.length !== 1 || !["json", "npy"].includes(options.format)) {
    console.error("usage: node reader.js FIXTURE_DIR [--format json|npy] [--no-verify] [--verbose]");
    return 2;
  }
  const dir = positional[0];
  const index = JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8"));
  let failed = 0;
  if (options.verify) {
    const problems = verifyChecksums(dir);
    for (const p of problems) console.log(`CHECKSUM ${p}`);
    if (problems.length) failed++;
  }
  const counts = { checked: 0, passed: 0, failed: 0, skipped: 0 };
  const skipReasons = {};
  for (const entry of index.cases) {
    const manifestPath = path.join(dir, ...entry.manifest.split("/"));
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
    let problem;
    try {
      problem = playCase(manifest, path.dirname(manifestPath), options.format);
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
      counts.skipped++;
      skipReasons[err.message] = (skipReasons[err.message] || 0) + 1;
      if (options.verbose) console.log(`SKIP ${entry.id}: ${err.message}`);
      continue;
    }
    counts.checked++;
    if (problem) {
      counts.failed++;
      console.log(`FAIL ${entry.id}: ${problem}`);
    } else {
      counts.passed++;
      if (options.verbose) console.log(`PASS ${entry.id}`);
    }
  }
  console.log(`suite ${index.suite.name} ${index.suite.version}: ${index.cases.length} cases, ` +
              `${counts.checked} checked (${options.format}), ${counts.passed} passed, ${counts.failed} failed, ` +
              `${counts.skipped} skipped`);
  for (const [reason, n] of Object.entries(skipReasons).sort((a, b) => b[1] - a[1])) {
    console.log(`  skipped ${n}: ${reason}`);
  }
  return counts.failed || failed ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));

module.exports = { readNpy, readJsonArray, forward, verifyChecksums, main };

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
// with the activations of the pages (and null for linear), masks (a masked step
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

// The nearest float16 value (ties to even): the JSON text of a float16 number is the shortest
// that reads back to it *as a float16*, so it must be rounded, as float32 text is with fround.
function roundHalf(x) {
  if (!Number.isFinite(x) || x === 0) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a >= 65520) return sign * Infinity;
  let e = Math.max(-14, Math.floor(Math.log2(a)));
  if (e > -14 && a < Math.pow(2, e)) e--;
  if (a >= Math.pow(2, e + 1)) e++;
  const quantum = Math.pow(2, e - 10);
  const r = a / quantum;
  let n = Math.floor(r);
  if (r - n > 0.5 || (r - n === 0.5 && n % 2 === 1)) n++;
  return sign * n * quantum;
}

const JSON_ROUNDING = { float32: Math.fround, float16: roundHalf };

function readJsonArray(file) {
  const spec = JSON.parse(fs.readFileSync(file, "utf8"));
  const round = JSON_ROUNDING[spec.storage] || ((v) => v);
  return { shape: spec.shape, dtype: spec.dtype, data: Float64Array.from(spec.data.map((v) => round(parseJsonNumber(v)))) };
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
  softsign: (x) => x / (1 + Math.abs(x)),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  exponential: Math.exp,
  // Keras 3's relu6(x + 3) / 6; the Keras 2 profile's is clip(0.2 x + 0.5, 0, 1) (docs/protocol.md).
  hard_sigmoid: (x) => Math.min(1, Math.max(0, x / 6 + 0.5)),
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

// ---------------------------------------------------------------- judging observations
//
// `--observations FILE` judges what an implementation did instead of playing the reader's own
// forward pass: FILE is a JSON list of {"id": case id, "label"?: text, "steps": [observation,
// ...]}, observations in the worker protocol's form (docs/protocol.md: {"ok": value},
// {"raised": {...}}, {"unsupported": ...}, {"skipped": ...}; arrays as {"__ndarray__": ...};
// non-finite numbers as the strings "NaN", "Infinity", "-Infinity"). Every step of every case is
// judged by the manifest's rules (its `comparison` and `checks`): nothing is skipped.

const WIRE_READERS = {
  bool: [1, (v, o) => v.getUint8(o)], int8: [1, (v, o) => v.getInt8(o)], uint8: [1, (v, o) => v.getUint8(o)],
  int16: [2, (v, o) => v.getInt16(o, true)], int32: [4, (v, o) => v.getInt32(o, true)],
  int64: [8, (v, o) => Number(v.getBigInt64(o, true))], float16: [2, (v, o) => halfToFloat(v.getUint16(o, true))],
  float32: [4, (v, o) => v.getFloat32(o, true)], float64: [8, (v, o) => v.getFloat64(o, true)],
};

function decodeWire(spec) {
  const wire = spec.wire_dtype || spec.dtype;
  if (!(wire in WIRE_READERS)) throw new Error(`array travels with unsupported dtype ${wire}`);
  const bytes = Buffer.from(spec.data, "base64");
  const [size, read] = WIRE_READERS[wire];
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * size) throw new Error(`array of shape [${spec.shape}] needs ${count * size} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, i * size);
  return { __array: true, shape: spec.shape, dtype: spec.dtype, data };
}

// Numbers written as strings in JSON ("NaN", ...) back to numbers.
function numberFromText(v) {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return v;
}

// An observation's value: arrays decoded, non-finite numbers restored.
function actualValue(value) {
  if (Array.isArray(value)) return value.map(actualValue);
  if (value && typeof value === "object") {
    if (value.__ndarray__) return decodeWire(value.__ndarray__);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = actualValue(v);
    return out;
  }
  return numberFromText(value);
}

// An expected value of a manifest: arrays read from their files, non-finite numbers restored.
function expectedValue(value, caseDir, format) {
  if (Array.isArray(value)) return value.map((v) => expectedValue(v, caseDir, format));
  if (value && typeof value === "object") {
    if (value.__array__) return resolveArrays(value, caseDir, format);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = expectedValue(v, caseDir, format);
    return out;
  }
  return numberFromText(value);
}

const isArray = (v) => Boolean(v && typeof v === "object" && v.__array === true);
const isNumber = (v) => typeof v === "number";
const typeName = (v) => (v === null ? "None" : isArray(v) ? "an array" : Array.isArray(v) ? "a list" : typeof v);


function normalizeConfig(value) {
  if (Array.isArray(value)) return value.map(normalizeConfig);
  if (value && typeof value === "object" && !isArray(value)) {
    if ("class_name" in value) {
      if (["DTypePolicy", "Policy", "FloatDTypePolicy"].includes(value.class_name)) {
        return value.config && "name" in value.config ? value.config.name : null;
      }
      const config = {};
      for (const [k, v] of Object.entries(value.config || {})) if (v !== null) config[k] = normalizeConfig(v);
      return { class_name: value.class_name, config };
    }
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "callable") return value.callable;
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeConfig(v);
    return out;
  }
  return value;
}

function isNumericNest(v) {
  if (Array.isArray(v)) return v.every(isNumericNest);
  return isNumber(v);
}

function nestToArray(v) {
  const shape = [];
  for (let x = v; Array.isArray(x); x = x[0]) shape.push(x.length);
  const flat = Array.isArray(v) ? v.flat(Infinity) : [v];
  return { __array: true, shape, dtype: null, data: Float64Array.from(flat) };
}

function compareArraysStrict(expected, actual, rtol, atol, dtypes) {
  if (!isArray(actual)) return [`expected an array, got ${typeName(actual)}`];
  if (JSON.stringify(expected.shape) !== JSON.stringify(actual.shape)) return [`shape [${actual.shape}], expected [${expected.shape}]`];
  const problems = [];
  if (dtypes && expected.dtype !== null && actual.dtype !== expected.dtype) problems.push(`dtype ${actual.dtype}, expected ${expected.dtype}`);
  let nan = false, inf = false, bad = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i], a = actual.data[i];
    if (Number.isNaN(e) !== Number.isNaN(a)) nan = true;
    const ei = e === Infinity || e === -Infinity, ai = a === Infinity || a === -Infinity;
    if (ei !== ai || (ei && Math.sign(e) !== Math.sign(a))) inf = true;
    if (Number.isFinite(e) && Number.isFinite(a) && Math.abs(a - e) > atol + rtol * Math.abs(e)) bad++;
  }
  if (nan) problems.push("NaN differs from the reference");
  if (inf) problems.push("Inf differs from the reference");
  if (bad) problems.push(`${bad} of ${expected.data.length} values differ`);
  return problems;
}

// compare_values of conformance/judge/compare.py: a list of differences.
function compareValues(expected, actual, rtol, atol, ctx, op, literal, dtypes) {
  if (op === "get_config") {
    if (!actual || typeof actual !== "object" || Array.isArray(actual) || isArray(actual)) return ["get_config returned no mapping"];
    const problems = [];
    for (const key of ctx.configKeys) {
      if (!(key in actual)) { problems.push(`get_config lacks ${key}`); continue; }
      const e = key in expected ? expected[key] : null;
      problems.push(...compareValues(normalizeConfig(e), normalizeConfig(actual[key]), rtol, atol, ctx, null, false, true));
    }
    return problems;
  }
  if (op === "losses" && Array.isArray(expected) && Array.isArray(actual)) {
    const sortNumbers = (xs) => [...xs].sort((a, b) => (isNumber(a) && isNumber(b) ? a - b : 0));
    expected = sortNumbers(expected);
    actual = sortNumbers(actual);
  }
  if (isArray(expected)) return compareArraysStrict(expected, actual, rtol, atol, dtypes);
  if (literal && Array.isArray(expected) && isNumericNest(expected) && isArray(actual)) {
    return compareArraysStrict(nestToArray(expected), actual, rtol, atol, dtypes);
  }
  if (expected && typeof expected === "object" && !Array.isArray(expected)) {
    if (!actual || typeof actual !== "object" || Array.isArray(actual) || isArray(actual)) return [`expected a mapping, got ${typeName(actual)}`];
    const problems = [];
    for (const key of Object.keys(expected)) {
      if (!(key in actual)) problems.push(`missing key ${key}`);
      else problems.push(...compareValues(expected[key], actual[key], rtol, atol, ctx, null, false, dtypes));
    }
    return problems;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`expected a list of ${expected.length}, got ${typeName(actual)}`];
    if (expected.length !== actual.length) return [`expected ${expected.length} items, got ${actual.length}`];
    const problems = [];
    for (let i = 0; i < expected.length; i++) problems.push(...compareValues(expected[i], actual[i], rtol, atol, ctx, null, literal, dtypes));
    return problems;
  }
  if (typeof expected === "boolean" || expected === null || typeof expected === "string") {
    return actual === expected ? [] : [`expected ${JSON.stringify(expected)}, got ${typeName(actual)}`];
  }
  if (isNumber(expected)) {
    if (!isNumber(actual)) return [`expected ${expected}, got ${typeName(actual)}`];
    if (Number.isInteger(expected) && Number.isInteger(actual)) return expected === actual ? [] : [`expected ${expected}, got ${actual}`];
    if (Number.isNaN(expected) && Number.isNaN(actual)) return [];
    const err = Math.abs(actual - expected);
    return err <= atol + rtol * Math.abs(expected) ? [] : [`expected ${expected}, got ${actual}`];
  }
  return JSON.stringify(expected) === JSON.stringify(actual) ? [] : ["values differ"];
}

// ------------------------------------------------ property checks (the manifest's `checks`)

class JudgeError extends Error {}

function checkedArray(value, output) {
  if (Array.isArray(value)) {
    if (output >= value.length) throw new JudgeError(`no output ${output}`);
    value = value[output];
  }
  if (!isArray(value)) throw new JudgeError(`expected an array, got ${typeName(value)}`);
  return value;
}

const isZero = (x) => Math.abs(x) <= 1e-8;
// NumPy's reductions: a NaN anywhere makes the result NaN.
function reduceMax(d) { let m = -Infinity; for (const x of d) { if (Number.isNaN(x)) return NaN; if (x > m) m = x; } return m; }
function reduceMin(d) { let m = Infinity; for (const x of d) { if (Number.isNaN(x)) return NaN; if (x < m) m = x; } return m; }
function mean(d) { let s = 0; for (const x of d) s += x; return s / d.length; }
function std(d) { const m = mean(d); let s = 0; for (const x of d) s += (x - m) * (x - m); return Math.sqrt(s / d.length); }
const absArray = (d) => d.map(Math.abs);

const CHECKS = {
  finite(A) { return A.data.every(Number.isFinite); },
  values_in(A, p) {
    return A.data.every((a) => p.values.some((v) => Math.abs(a - v) <= p.atol * Math.max(1, Math.abs(v))));
  },
  zero_pattern_constant_over_time(A) {
    if (A.shape.length !== 3) throw new JudgeError("zero_pattern_constant_over_time needs (batch, timesteps, units)");
    const [B, T, U] = A.shape;
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let u = 0; u < U; u++) {
      if (isZero(A.data[(b * T + t) * U + u]) !== isZero(A.data[b * T * U + u])) return false;
    }
    return true;
  },
  fraction_zero_between(A, p) {
    const share = A.data.filter(isZero).length / A.data.length;
    return p.low <= share && share <= p.high;
  },
  fraction_kept_between(A, p) {
    const share = A.data.filter((x) => !isZero(x)).length / A.data.length;
    return p.low <= share && share <= p.high;
  },
  recurrent_dropout_powers(A, p) {
    if (A.shape.length !== 3) return false;
    const [B, T, U] = A.shape;
    const s = 1 / (1 - p.rate);
    for (let b = 0; b < B; b++) for (let u = 0; u < U; u++) {
      let kept = true, dropped = true;
      for (let t = 0; t < T; t++) {
        const a = A.data[(b * T + t) * U + u];
        const power = Math.pow(s, t + 1);
        if (!(Math.abs(a - power) <= p.atol + p.atol * Math.abs(power))) kept = false;
        if (!(Math.abs(a) <= p.atol)) dropped = false;
      }
      if (!kept && !dropped) return false;
    }
    return true;
  },
  within_bounds(A, p) {
    if (!A.data.length) return true;
    return !(reduceMin(A.data) < p.low - p.atol || reduceMax(A.data) > p.high + p.atol);
  },
  moments(A, p) {
    const m = mean(A.data), s = std(A.data);
    return !(Math.abs(m - p.mean) > p.mean_atol) && !(Math.abs(s - p.std) > p.std_rtol * p.std);
  },
  variance_scaling(A, p) {
    const fanIn = A.shape[0];
    const fanOut = A.shape.length === 1 ? A.shape[0] : A.shape[1];
    if (fanIn === undefined) throw new JudgeError("variance_scaling of a scalar");
    const n = { fan_in: fanIn, fan_out: fanOut, fan_avg: (fanIn + fanOut) / 2 }[p.mode];
    if (n === undefined) throw new JudgeError(`variance_scaling: unknown mode ${p.mode}`);
    if (!A.data.length && p.distribution !== "normal") throw new JudgeError("variance_scaling of an empty array");
    // Fixtures written before the bound on the mean was a parameter lack it: an error, never a silent pass.
    if (typeof p.mean_standard_errors !== "number") throw new JudgeError("variance_scaling: no mean_standard_errors");
    const variance = p.scale / Math.max(1, n);
    const sd = Math.sqrt(variance);
    let ok = true;
    if (p.distribution === "uniform" && reduceMax(absArray(A.data)) > Math.sqrt(3 * variance) * (1 + 1e-6)) ok = false;
    if (p.distribution === "truncated_normal" && reduceMax(absArray(A.data)) > (2 * sd / 0.87962566103423978) * (1 + 1e-6)) ok = false;
    if (Math.abs(std(A.data) - sd) > p.std_rtol * sd) ok = false;
    if (Math.abs(mean(A.data)) > p.mean_standard_errors * sd / Math.sqrt(A.data.length) + 1e-12) ok = false;
    return ok;
  },
  orthogonal(A, p) {
    if (A.shape.length !== 2) return false;
    const [R, C] = A.shape;
    const tall = R >= C;
    const k = tall ? C : R;
    let err = 0;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
      let g = 0;
      if (tall) for (let r = 0; r < R; r++) g += A.data[r * C + i] * A.data[r * C + j];
      else for (let c = 0; c < C; c++) g += A.data[i * C + c] * A.data[j * C + c];
      const d = Math.abs(g - p.gain * p.gain * (i === j ? 1 : 0));
      if (Number.isNaN(d)) err = NaN;
      else if (d > err) err = d;
    }
    return err <= p.atol * Math.max(1, p.gain * p.gain);
  },
  constant(A, p) {
    const err = A.data.length ? reduceMax(A.data.map((x) => Math.abs(x - p.fill))) : 0;
    return err <= p.atol * Math.max(1, Math.abs(p.fill));
  },
  not_all_equal(A) {
    return A.data.length < 2 || reduceMax(A.data) - reduceMin(A.data) > 0;
  },
};

function runCheck(spec, value) {
  if (!(spec.check in CHECKS)) return `unknown check ${spec.check}`;
  const A = checkedArray(value, spec.output || 0);
  return CHECKS[spec.check](A, spec) ? null : `check ${spec.check} does not hold`;
}

// ------------------------------------------------ one step, one case

function shapesOf(v) {
  if (isArray(v)) return v.shape;
  if (Array.isArray(v)) return v.map(shapesOf);
  return v;
}

function dtypesOf(v) {
  if (isArray(v)) return [v.dtype];
  if (Array.isArray(v)) return v.flatMap(dtypesOf);
  return [];
}

function layerDtype(v) {
  if (isArray(v)) return v.dtype;
  if (Array.isArray(v)) for (const x of v) { const d = layerDtype(x); if (d) return d; }
  return "float32";
}

// null when the step conforms, else [kind, message] with kind "fail" or "error".
function checkStep(step, expect, outcome, act, ctx) {
  const expectedSkip = outcome.outcome === "skipped";
  if ("skipped" in act || expectedSkip) return ("skipped" in act && expectedSkip) ? null : ["fail", "skipped differs"];
  let wanted = expect.raises || null;
  if (wanted === null && outcome.outcome === "raises") wanted = { type: outcome.type };
  if (wanted !== null) {
    if (!("raised" in act)) return ["fail", `expected ${wanted.type} to be raised, but ${step.op} returned`];
    const names = Array.isArray(wanted.type) ? wanted.type : [wanted.type];
    const raised = act.raised;
    const types = raised.types || [raised.type];
    if (!names.some((n) => types.includes(n))) return ["fail", `expected ${names.join(" or ")}, got ${raised.type}`];
    if (wanted.match && !new RegExp(wanted.match).test(raised.message)) return ["fail", `message does not match ${wanted.match}`];
    return null;
  }
  if ("raised" in act) return ["error", `${step.op} raised ${act.raised.type}: ${act.raised.message}`];
  if (!("ok" in act)) throw new JudgeError("an observation without ok, raised, unsupported or skipped");
  const value = actualValue(act.ok);
  const expectedOk = expectedValue(outcome.value, ctx.caseDir, ctx.format);
  const dtype = layerDtype(expectedOk);
  let tol = ctx.tolerance.by_dtype[dtype] || ctx.tolerance.by_dtype.float32;
  if (expect.tolerance) tol = expect.tolerance;
  const problems = [];
  if (expect.compare !== false) {
    problems.push(...compareValues(expectedOk, value, tol.rtol, tol.atol, ctx, step.op, false, !("dtype" in expect)));
  }
  if ("shape" in expect && JSON.stringify(shapesOf(value)) !== JSON.stringify(expect.shape)) problems.push("shape differs");
  if ("dtype" in expect) {
    const allowed = Array.isArray(expect.dtype) ? expect.dtype : [expect.dtype];
    if (dtypesOf(value).some((d) => !allowed.includes(d))) problems.push("dtype not allowed");
  }
  if ("equals" in expect) {
    problems.push(...compareValues(expectedValue(expect.equals, ctx.caseDir, ctx.format), value, tol.rtol, tol.atol, ctx, step.op, true, true));
  }
  for (const spec of expect.checks || []) {
    const problem = runCheck(spec, value);
    if (problem) problems.push(problem);
  }
  return problems.length ? ["fail", problems.slice(0, 5).join("; ")] : null;
}

// The verdict of a case for the observations of one implementation: {status, step, message}.
function judgeCase(manifest, caseDir, format, observations) {
  const ctx = { caseDir, format, tolerance: manifest.tolerance, configKeys: manifest.comparison.get_config_keys };
  try {
    for (const step of manifest.steps) {
      if (step.index >= observations.length) return { status: "error", step: step.index, message: "fewer observations than steps" };
      const act = observations[step.index];
      if (act && typeof act === "object" && "unsupported" in act) return { status: "unsupported", step: step.index, message: act.unsupported };
      const base = step.expect || {};
      const options = step.any_of
        ? step.any_of.map((o) => ({ name: o.variant, expect: { ...base, ...o.expect }, outcome: o.expected }))
        : [{ name: null, expect: base, outcome: step.expected }];
      const failures = [];
      for (const option of options) {
        const problem = checkStep(step, option.expect, option.outcome, act, ctx);
        if (problem === null) { failures.length = 0; break; }
        failures.push([option.name, problem]);
      }
      if (failures.length) {
        let [kind, message] = failures[0][1];
        if (failures.length > 1) {
          kind = failures.every(([, p]) => p[0] === "error") ? "error" : "fail";
          message = failures.map(([n, p]) => `[${n}] ${p[1]}`).join("; ");
        }
        return { status: kind, step: step.index, message };
      }
    }
  } catch (err) {
    // What the runner records when a target's answer cannot be judged at all.
    return { status: "error", message: `cannot judge: ${err.message}` };
  }
  return { status: "pass" };
}

function judgeObservations(dir, index, file, options) {
  const entries = JSON.parse(fs.readFileSync(file, "utf8"));
  const manifests = new Map(index.cases.map((c) => [c.id, c.manifest]));
  const counts = {};
  let unknown = 0;
  for (const entry of entries) {
    if (!manifests.has(entry.id)) {
      unknown++;
      console.log(`UNKNOWN ${entry.id}: no such case in ${dir}`);
      continue;
    }
    const manifestPath = path.join(dir, ...manifests.get(entry.id).split("/"));
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
    const verdict = judgeCase(manifest, path.dirname(manifestPath), options.format, entry.steps || []);
    counts[verdict.status] = (counts[verdict.status] || 0) + 1;
    if (options.json) console.log(JSON.stringify({ id: entry.id, label: entry.label, ...verdict }));
    else if (verdict.status !== "pass" || options.verbose) {
      console.log(`${verdict.status.toUpperCase()} ${entry.id}${entry.label ? ` (${entry.label})` : ""}` +
                  (verdict.message ? `: step ${verdict.step}: ${verdict.message}` : ""));
    }
  }
  console.log(`judged ${entries.length - unknown} observations: ` +
              Object.entries(counts).sort().map(([k, n]) => `${n} ${k}`).join(", ") + ", 0 skipped");
  return unknown || Object.keys(counts).some((k) => k !== "pass") ? 1 : 0;
}

// ---------------------------------------------------------------- main

function main(argv) {
  const options = { format: "json", verify: true, verbose: false, observations: null, json: false };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--format") options.format = argv[++i];
    else if (argv[i] === "--no-verify") options.verify = false;
    else if (argv[i] === "--verbose") options.verbose = true;
    else if (argv[i] === "--observations") options.observations = argv[++i];
    else if (argv[i] === "--json") options.json = true;
    else positional.push(argv[i]);
  }
  if (positional.length !== 1 || !["json", "npy"].includes(options.format) || options.observations === undefined) {
    console.error("usage: node reader.js FIXTURE_DIR [--format json|npy] [--no-verify] [--verbose] " +
                  "[--observations FILE [--json]]");
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
  if (options.observations) return Math.max(failed, judgeObservations(dir, index, options.observations, options));
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

module.exports = { readNpy, readJsonArray, forward, verifyChecksums, judgeCase, main };

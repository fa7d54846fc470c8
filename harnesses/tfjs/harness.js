#!/usr/bin/env node
// TensorFlow.js `tf.layers.simpleRNN` as a conformance target, speaking the
// JSON-lines worker protocol (docs/protocol.md) on stdin/stdout.
//
//   cd harnesses/tfjs && npm ci          # installs @tensorflow/tfjs (pure JS, no native code)
//   conformance run --target tfjs        # or: --target exec:'node harnesses/tfjs/harness.js'
//
// It uses the pure-JavaScript CPU backend of @tensorflow/tfjs (not tfjs-node).
// tfjs-layers is a port of Keras 2, so the adapter mostly renames: the Keras
// config's snake_case keys become camelCase, {class_name, config} objects
// become {className, config}, and what comes back is renamed the other way.
// Everything else is tfjs's own behaviour, its errors included (tfjs-layers
// throws classes named ValueError, NotImplementedError, ... like Keras).
'use strict';

// Only protocol lines may reach stdout: anything tfjs prints goes to stderr.
const protocolOut = process.stdout;
console.log = (...args) => process.stderr.write(args.join(' ') + '\n');
console.info = console.log;
console.warn = console.log;

const PROTOCOL_VERSION = 1;
const readline = require('readline');

let tf;
try {
  tf = require('@tensorflow/tfjs');
} catch (err) {
  send({type: 'fatal', message: `cannot load @tensorflow/tfjs (run npm ci in ${__dirname}): ${err.message}`});
  process.exit(1);
}

// Features (names of conformance.catalog.cases.features) tfjs cannot express at all.
const UNSUPPORTED = [
  'dtype:float16', 'dtype:bfloat16', 'dtype:float64', 'dtype:mixed_float16', 'dtype:mixed_bfloat16',
  'activation:custom',
];
const KERAS_ONLY_ARGS = new Set(['seed', 'zero_output_for_mask']);

class Unsupported extends Error {}

function send(message) {
  protocolOut.write(JSON.stringify(message) + '\n');
}

// ------------------------------------------------------------------ arrays on the wire

const WIRE = {
  bool: [Uint8Array, 1], int8: [Int8Array, 1], uint8: [Uint8Array, 1], int16: [Int16Array, 2],
  int32: [Int32Array, 4], int64: [BigInt64Array, 8], float32: [Float32Array, 4], float64: [Float64Array, 8],
};

function halfToFloat(h) {
  const s = (h & 0x8000) ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}

// {"__ndarray__": {dtype, wire_dtype, shape, data}} -> {dtype, shape, values: plain numbers}
function decodeArray(obj) {
  const spec = obj.__ndarray__;
  if (spec === null || typeof spec !== 'object' || !Array.isArray(spec.shape) || typeof spec.data !== 'string') {
    throw new ProtocolError('an __ndarray__ needs dtype, shape and base64 data');
  }
  const wire = spec.wire_dtype || spec.dtype;
  const bytes = Buffer.from(spec.data, 'base64');
  const count = spec.shape.reduce((a, b) => a * b, 1);
  let values;
  if (wire === 'float16') {
    if (bytes.length !== 2 * count) throw new ProtocolError(`float16 array of shape [${spec.shape}] needs ${2 * count} bytes, got ${bytes.length}`);
    values = Array.from({length: count}, (_, i) => halfToFloat(bytes.readUInt16LE(2 * i)));
  } else if (WIRE[wire]) {
    const [Type, size] = WIRE[wire];
    if (bytes.length !== size * count) {
      throw new ProtocolError(`${wire} array of shape [${spec.shape}] needs ${size * count} bytes, got ${bytes.length}`);
    }
    const copy = new Uint8Array(bytes); // aligned copy (little-endian hosts only, as is every Node target)
    values = Array.from(new Type(copy.buffer, 0, count), (v) => (typeof v === 'bigint' ? Number(v) : v));
    if (wire === 'bool') values = values.map((v) => v !== 0);
  } else {
    throw new ProtocolError(`unknown wire_dtype ${JSON.stringify(wire)}`);
  }
  return {dtype: spec.dtype, shape: spec.shape, values};
}

function encodeArray(values, shape, dtype) {
  let typed, wire;
  if (dtype === 'bool') {
    typed = Uint8Array.from(values, (v) => (v ? 1 : 0)); wire = 'bool';
  } else if (dtype === 'int32') {
    typed = Int32Array.from(values); wire = 'int32';
  } else {
    typed = Float32Array.from(values); wire = 'float32';
  }
  const data = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString('base64');
  return {__ndarray__: {dtype, wire_dtype: wire, shape, data}};
}

function decodeTree(tree) {
  if (Array.isArray(tree)) return tree.map(decodeTree);
  if (tree !== null && typeof tree === 'object') {
    if ('__ndarray__' in tree) return decodeArray(tree);
    const out = {};
    for (const [k, v] of Object.entries(tree)) out[k] = decodeTree(v);
    return out;
  }
  return tree;
}

class ProtocolError extends Error {}

function toTensor(array, dtype = 'float32') {
  if (array.dtype === 'bool' && dtype === 'bool') return tf.tensor(array.values, array.shape, 'bool');
  return tf.tensor(array.values.map(Number), array.shape, dtype);
}

function observeTensor(t) {
  if (t === null || t === undefined) return null;
  if (t instanceof tf.Tensor) return encodeArray(Array.from(t.dataSync()), t.shape, t.dtype);
  if (t.read) return observeTensor(t.read()); // a LayerVariable
  return t;
}

// ------------------------------------------------------------------ Keras <-> tfjs names

const camel = (s) => s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const snake = (s) => s.replace(/([A-Z])/g, (c) => '_' + c.toLowerCase());

function toTfjsValue(key, value) {
  if (value === null || value === undefined) return value;
  if (key === 'activation') {
    if (typeof value === 'object' && 'callable' in value) return value.callable;
    return value;
  }
  if (typeof value === 'string' && /_(initializer)$/.test(key)) {
    // tfjs spells LeCun with a capital C: 'leCunUniform', class 'LeCunUniform'.
    return camel(value).replace(/^lecun/, 'leCun');
  }
  if (typeof value === 'object' && !Array.isArray(value) && 'class_name' in value) {
    let className = value.class_name.replace(/^Lecun/, 'LeCun');
    const config = {};
    for (const [k, v] of Object.entries(value.config || {})) config[camel(k)] = v;
    if (/_regularizer$/.test(key) && ['L1', 'L2', 'L1L2'].includes(className)) {
      // tfjs has one class for the three Keras ones: l1 * sum|w| + l2 * sum w^2
      className = 'L1L2';
      config.l1 = config.l1 || 0; config.l2 = config.l2 || 0;
    }
    return {className, config};
  }
  return value;
}

function tfjsConfig(layer) {
  const config = {};
  for (const [key, value] of Object.entries(layer)) {
    if (KERAS_ONLY_ARGS.has(key)) {
      if (value !== null && value !== false && value !== undefined) {
        throw new Unsupported(`constructor argument ${key}: tf.layers.simpleRNN has no such option`);
      }
      continue;
    }
    if (key === 'dtype') {
      const name = (value && typeof value === 'object') ? (value.config || {}).name : value;
      if (name !== null && name !== undefined && name !== 'float32') {
        throw new Unsupported(`dtype ${name}: tfjs layers compute in float32`);
      }
      continue;
    }
    if (key === 'activation' && value === null) { config.activation = 'linear'; continue; }
    config[camel(key)] = toTfjsValue(key, value);
  }
  return config;
}

function toKerasValue(value) {
  if (Array.isArray(value)) return value.map(toKerasValue);
  if (value !== null && typeof value === 'object') {
    if ('className' in value) {
      const config = {};
      for (const [k, v] of Object.entries(value.config || {})) config[snake(k)] = toKerasValue(v);
      return {class_name: value.className, config};
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[snake(k)] = toKerasValue(v);
    return out;
  }
  return value === undefined ? null : value;
}

function plain(value) {
  // A property's value as JSON data and arrays.
  if (value === null || value === undefined) return null;
  if (value instanceof tf.Tensor || (value && typeof value.read === 'function')) return observeTensor(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object') {
    if (typeof value.getClassName === 'function' && typeof value.apply === 'function' && !value.getConfig) {
      return {callable: value.getClassName()};
    }
    if (typeof value.getClassName === 'function' && typeof value.getConfig === 'function') {
      const name = value.getClassName();
      if (/^[a-z]/.test(name)) return {callable: name}; // activations are named like 'tanh'
      return {class_name: name, config: toKerasValue(value.getConfig())};
    }
    return toKerasValue(value);
  }
  return value;
}

// ------------------------------------------------------------------ the adapter

class TfjsAdapter {
  constructor() { this.layer = null; this.inputShape = null; }

  create({layer}) {
    this.layer = tf.layers.simpleRNN(tfjsConfig(layer));
    this.inputShape = null;
    return null;
  }

  build({input_shape}) {
    this.inputShape = input_shape;
    this.layer.build(input_shape);
    this.layer.built = true;
    return null;
  }

  call({inputs, mask, training, initial_state}) {
    const kwargs = {};
    if (mask) kwargs.mask = toTensor(mask, 'bool');
    if (training !== null && training !== undefined) kwargs.training = training;
    if (initial_state) kwargs.initialState = initial_state.map((s) => toTensor(s));
    if (!this.inputShape) this.inputShape = inputs.shape;
    const out = this.layer.apply(toTensor(inputs), kwargs);
    return (Array.isArray(out) ? out : [out]).map(observeTensor);
  }

  get_weights() { return this.layer.getWeights().map(observeTensor); }

  set_weights({weights}) {
    this.layer.setWeights(weights.map((w) => toTensor(w)));
    return null;
  }

  reset_states({states}) {
    this.layer.resetStates(states ? states.map((s) => toTensor(s)) : undefined);
    return null;
  }

  count_params() { return this.layer.countParams(); }

  compute_output_shape({input_shape}) { return this.layer.computeOutputShape(input_shape); }

  compute_mask({inputs, mask}) {
    return plain(this.layer.computeMask(toTensor(inputs), mask ? toTensor(mask, 'bool') : null));
  }

  get_config() { return toKerasValue(this.layer.getConfig()); }

  from_config() {
    const old = this.layer;
    const cls = old.constructor;
    this.layer = cls.fromConfig(cls, old.getConfig());
    if (old.built && this.inputShape) {
      this.layer.build(this.inputShape);
      this.layer.built = true;
      this.layer.setWeights(old.getWeights());
    }
    return null;
  }

  losses() {
    const fromLayer = this.layer.calculateLosses();
    const all = fromLayer.length ? fromLayer : (this.layer.cell ? this.layer.cell.calculateLosses() : []);
    return all.map((t) => t.dataSync()[0]);
  }

  get_property({name}) {
    const key = camel(name);
    if (!(key in this.layer)) throw new Unsupported(`property ${name}: tf.layers.simpleRNN has no ${key}`);
    return plain(this.layer[key]);
  }

  apply_constraints() {
    // tfjs applies a weight's constraint when the weight is written (LayerVariable.write),
    // which is what its optimizers do after each update.
    for (const w of this.layer.trainableWeights) w.write(w.read());
    return null;
  }
}

function exceptionInfo(err) {
  const types = [];
  for (let proto = Object.getPrototypeOf(err); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if (proto.constructor && proto.constructor.name) types.push(proto.constructor.name);
  }
  const type = types[0] || (err && err.name) || 'Error';
  const message = String((err && err.message) || err).trim().split('\n')[0];
  return {type, types, message};
}

function runSteps(caseData) {
  const adapter = new TfjsAdapter();
  const observations = [];
  let haveLayer = true;
  for (const step of caseData.steps) {
    if (!haveLayer) { observations.push({skipped: 'the layer could not be created'}); continue; }
    const method = adapter[step.op];
    if (typeof method !== 'function') {
      observations.push({unsupported: `op ${step.op}`});
      break;
    }
    try {
      const value = tf.tidy(() => {
        const v = method.call(adapter, step.args || {});
        return v === undefined ? null : v;
      });
      observations.push({ok: value});
    } catch (err) {
      if (err instanceof Unsupported) { observations.push({unsupported: err.message}); break; }
      observations.push({raised: exceptionInfo(err)});
      if (step.op === 'create') haveLayer = false;
    }
  }
  return observations;
}

// ------------------------------------------------------------------ the protocol loop

async function main() {
  const rl = readline.createInterface({input: process.stdin, crlfDelay: Infinity, terminal: false});
  let started = false;
  for await (const line of rl) {
    if (!line.trim()) continue;
    let message;
    try {
      // Python's json writes NaN/Infinity tokens; JSON.parse does not know them.
      message = JSON.parse(line.replace(/([:,[])\s*(?:NaN|-?Infinity)(?=\s*[,\]}])/g, '$1null'));
    } catch (err) {
      send({type: 'fatal', message: `the line is not JSON: ${err.message}`});
      return 1;
    }
    if (message.type === 'start') {
      if (message.protocol !== PROTOCOL_VERSION) {
        send({type: 'fatal', message: `the runner speaks protocol ${message.protocol}, this harness ${PROTOCOL_VERSION}`});
        return 1;
      }
      await tf.setBackend('cpu');
      await tf.ready();
      started = true;
      send({type: 'started', protocol: PROTOCOL_VERSION,
            implementation: {name: 'tfjs', profile: (message.target && message.target.profile) || 'keras3',
                             versions: {'@tensorflow/tfjs': tf.version.tfjs, 'tfjs-layers': tf.version['tfjs-layers'],
                                        backend: tf.getBackend(), node: process.versions.node}},
            unsupported: UNSUPPORTED});
    } else if (message.type === 'run') {
      if (!started) { send({type: 'fatal', message: 'run before start'}); return 1; }
      const caseData = message.case || {};
      const missing = (caseData.features || []).filter((f) => UNSUPPORTED.includes(f)).sort();
      if (missing.length) {
        send({type: 'result', seq: message.seq, unsupported: `tfjs declares unsupported: ${missing.join(', ')}`});
        continue;
      }
      let decoded;
      try {
        decoded = decodeTree(caseData);
      } catch (err) {
        // A message this harness cannot decode: say so in one line and stop (docs/protocol.md).
        send({type: 'fatal', message: `cannot decode case ${JSON.stringify(caseData.id)}: ${err.message}`});
        return 1;
      }
      send({type: 'result', seq: message.seq, steps: runSteps(decoded)});
    } else if (message.type === 'stop') {
      return 0;
    } else {
      send({type: 'fatal', message: `unknown message type ${JSON.stringify(message.type)}`});
      return 1;
    }
  }
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  send({type: 'fatal', message: `harness crashed: ${err && err.stack ? err.stack.split('\n')[0] : err}`});
  process.exit(1);
});

// Finding 11: TensorFlow.js lets a NaN at a masked step reach the output and the state.
//
// Expected (keras3 page, mask: "a given timestep should be masked (ignored)"): a masked step's
// input does not enter the result; Keras selects, so a NaN there is ignored. Actual: tfjs blends
// masked steps arithmetically (x * mask), so NaN * 0 = NaN reaches the state.
// Exit 0 while the deviation is present.
// Run: NODE_PATH=harnesses/tfjs/node_modules node findings/11_tfjs_nan_at_masked_step.js
const tf = require('@tensorflow/tfjs');

const layer = tf.layers.simpleRNN({units: 2, kernelInitializer: 'ones', recurrentInitializer: 'zeros'});
const x = tf.tensor3d([[[1], [NaN], [1]]]);  // one sample, three steps, the middle one masked
const mask = tf.tensor2d([[1, 0, 1]], [1, 3], 'bool');
const out = layer.apply(x, {mask}).arraySync()[0];
const version = tf.version.tfjs;
if (out.some(Number.isNaN)) {
  console.log(`REPRODUCES on tfjs ${version}: output ${JSON.stringify(out)} (the masked NaN reached it)`);
  process.exit(0);
}
console.log(`FIXED on tfjs ${version}: output ${JSON.stringify(out)} ignores the masked step`);
process.exit(1);

// Finding 14: TensorFlow.js applies a weight constraint when weights are set.
//
// Expected (keras3 page, kernel_constraint: "Constraint function applied to the kernel weights
// matrix", which Keras applies after an optimizer update): set_weights stores the values given.
// Actual: tfjs's setWeights passes them through the constraint (nonNeg: negatives become 0).
// Exit 0 while the deviation is present.
// Run: NODE_PATH=harnesses/tfjs/node_modules node findings/14_tfjs_constraint_applied_on_set_weights.js
const tf = require('@tensorflow/tfjs');

const layer = tf.layers.simpleRNN({units: 2, kernelConstraint: 'nonNeg'});
layer.build([1, 3, 2]);
const kernel = tf.tensor2d([[-1, 2], [3, -4]]);
layer.setWeights([kernel, tf.zeros([2, 2]), tf.zeros([2])]);
const stored = layer.getWeights()[0].arraySync();
const version = tf.version.tfjs;
if (stored.flat().every((v) => v >= 0)) {
  console.log(`REPRODUCES on tfjs ${version}: set [[-1,2],[3,-4]], stored ${JSON.stringify(stored)}`);
  process.exit(0);
}
console.log(`FIXED on tfjs ${version}: setWeights keeps ${JSON.stringify(stored)}`);
process.exit(1);

// Finding 12: TensorFlow.js applies no dropout for dropout=1.0 in training.
//
// Expected (keras3 page, dropout: "Fraction of the units to drop for the linear transformation
// of the inputs"): with 1.0 every input is dropped (Keras 3), so the output no longer depends on
// the input. Actual: tfjs applies dropout only for 0 < rate < 1: the training output equals the
// inference one. Exit 0 while the deviation is present.
// Run: NODE_PATH=harnesses/tfjs/node_modules node findings/12_tfjs_dropout_one_drops_nothing.js
const tf = require('@tensorflow/tfjs');

const layer = tf.layers.simpleRNN({units: 3, dropout: 1.0, kernelInitializer: 'ones'});
const x = tf.ones([2, 4, 5]);
const training = layer.apply(x, {training: true}).arraySync();
const inference = layer.apply(x, {training: false}).arraySync();
const version = tf.version.tfjs;
if (JSON.stringify(training) === JSON.stringify(inference)) {
  console.log(`REPRODUCES on tfjs ${version}: dropout=1.0 in training drops nothing (same output as inference)`);
  process.exit(0);
}
console.log(`FIXED on tfjs ${version}: dropout=1.0 in training changes the output`);
process.exit(1);

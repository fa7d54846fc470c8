// Finding 13: TensorFlow.js serializes glorot_uniform as VarianceScaling and L2 as L1L2.
//
// Expected (Keras get_config, which tfjs's getConfig mirrors for model exchange): the initializer
// and regularizer classes the layer was given (GlorotUniform, L2). Actual: their generalizations
// (VarianceScaling with its arguments, L1L2), so a config read back by Keras names other classes.
// Exit 0 while the deviation is present.
// Run: NODE_PATH=harnesses/tfjs/node_modules node findings/13_tfjs_config_initializer_names.js
const tf = require('@tensorflow/tfjs');

const layer = tf.layers.simpleRNN({units: 2, kernelInitializer: 'glorotUniform',
                                   kernelRegularizer: tf.regularizers.l2({l2: 0.01})});
const config = layer.getConfig();
const names = [config.kernelInitializer.className, config.kernelRegularizer.className];
const version = tf.version.tfjs;
if (names[0] === 'VarianceScaling' || names[1] === 'L1L2') {
  console.log(`REPRODUCES on tfjs ${version}: kernel_initializer ${names[0]}, kernel_regularizer ${names[1]}`);
  process.exit(0);
}
console.log(`FIXED on tfjs ${version}: kernel_initializer ${names[0]}, kernel_regularizer ${names[1]}`);
process.exit(1);

/**
 * tfjs-layers' Conv2D in training, without the gradient nobody uses: the layer calls tfjs-core's
 * fused convolution, whose custom gradient computes the input gradient and the filter gradient
 * together, always. For the first layer of a network the input gradient (of the data) is never
 * used, and at 28×28 it cost ~5% of a training step of the default cnn. Here, in training mode on
 * a backend with modelship's native kernels, the layer runs the same arithmetic as separate ops
 * (conv2d, bias add, activation), whose gradients tfjs computes only when something needs them.
 * Inference, other backends, and 1-D/3-D convolutions run tfjs-layers' own code.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { RELU_GRAD_KERNEL } from './native_train.ts';

interface ConvFields {
  rank: number;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number[];
  kernel: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
  activation?: { apply(t: tf.Tensor): tf.Tensor } | null;
}

type Call = (this: tfl.layers.Layer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

let installed = false;

/** Gives Conv2D a training-mode `call` with lazy gradients (once per process). */
export function installLazyConvGradients(): void {
  if (installed) return;
  const proto = Object.getPrototypeOf(tfl.layers.conv2d({ filters: 1, kernelSize: 1 })) as { call: Call };
  const inherited = proto.call;
  proto.call = function call(this: tfl.layers.Layer, inputs, kwargs) {
    const self = this as unknown as ConvFields;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const applies =
      kwargs['training'] === true &&
      (!Array.isArray(inputs) || inputs.length === 1) &&
      self.rank === 2 &&
      self.dataFormat === 'channelsLast' &&
      (self.padding === 'same' || self.padding === 'valid') &&
      input.dtype === 'float32' &&
      tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend()) !== undefined;
    if (!applies) return inherited.call(this, inputs, kwargs);
    return tf.tidy(() => {
      let out = tf.conv2d(
        input as tf.Tensor4D,
        self.kernel.read() as tf.Tensor4D,
        self.strides as [number, number],
        self.padding as 'same' | 'valid',
        'NHWC',
        self.dilationRate as [number, number],
      );
      if (self.bias) out = tf.add(out, self.bias.read());
      return self.activation ? self.activation.apply(out) : out;
    });
  };
  installed = true;
}

import { float, type GraphBuilder } from '../onnx/graph-builder.ts';
import type { SafetensorsWeights } from './safetensors-weights.ts';

/**
 * PyTorch modules as ONNX subgraphs, shared by the model builders. Each takes the diffusers/
 * transformers module path (`text_model.encoder.layers.0.mlp.fc1`) and binds its weights from
 * the safetensors file under the same names.
 */

/**
 * `nn.Linear`: x [..., in] → x · Wᵀ + b [..., out]. The weight stays `[out, in]` as stored (so its
 * bytes can be used in place); the Transpose is folded into a constant by onnxruntime at load.
 */
export function linear(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  inFeatures: number,
  outFeatures: number,
  hasBias = true,
): string {
  const weight = w.bind(g, `${module}.weight`, [outFeatures, inFeatures]);
  const y = g.op('MatMul', [x, g.op('Transpose', [weight], { perm: [1, 0] })]);
  return hasBias ? g.op('Add', [y, w.bind(g, `${module}.bias`, [outFeatures])]) : y;
}

/** `nn.LayerNorm` over the last axis: x [..., features] → same shape. */
export function layerNorm(
  g: GraphBuilder,
  w: SafetensorsWeights,
  module: string,
  x: string,
  features: number,
  epsilon: number,
): string {
  const scale = w.bind(g, `${module}.weight`, [features]);
  const bias = w.bind(g, `${module}.bias`, [features]);
  return g.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: float(epsilon) });
}

/** Activations by transformers' `hidden_act` name, elementwise. */
export function activation(
  g: GraphBuilder,
  name: 'quick_gelu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh',
  x: string,
): string {
  switch (name) {
    case 'quick_gelu':
      // x · σ(1.702 x)
      return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.constant('float32', [], [1.702])])])]);
    case 'gelu': {
      // exact: x · ½ (1 + erf(x / √2))
      const erf = g.op('Erf', [g.op('Mul', [x, g.constant('float32', [], [Math.SQRT1_2])])]);
      return g.op('Mul', [
        g.op('Mul', [x, g.constant('float32', [], [0.5])]),
        g.op('Add', [erf, g.constant('float32', [], [1])]),
      ]);
    }
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      // tanh approximation: ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))
      const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
      const inner = g.op('Add', [x, g.op('Mul', [cube, g.constant('float32', [], [0.044715])])]);
      const t = g.op('Tanh', [g.op('Mul', [inner, g.constant('float32', [], [Math.sqrt(2 / Math.PI)])])]);
      return g.op('Mul', [
        g.op('Mul', [x, g.constant('float32', [], [0.5])]),
        g.op('Add', [t, g.constant('float32', [], [1])]),
      ]);
    }
  }
}

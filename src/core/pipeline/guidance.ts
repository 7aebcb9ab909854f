/**
 * Classifier-free guidance as diffusers applies it: `uncond + scale * (cond - uncond)`, each operation
 * rounded to float32 (torch on float32 tensors, the scale rounded to float32 first).
 * Linear in its arrays: the device loop applies it to coefficient vectors as well as to latents.
 * @param uncond Float32Array, model output of the unconditional (negative prompt) side
 * @param cond Float32Array of the same length, model output of the prompt side
 * @param scale the float32 scale from `guidanceScale`
 */
export function guide(uncond: Float32Array, cond: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(cond.length);
  for (let i = 0; i < out.length; i++) {
    const u = uncond[i] as number;
    out[i] = u + Math.fround(scale * Math.fround((cond[i] as number) - u));
  }
  return out;
}

/** The request's cfg as guidance multiplies it: rounded to float32, as torch multiplies a float32 tensor by a Python float. */
export function guidanceScale(cfg: number): number {
  return Math.fround(cfg);
}

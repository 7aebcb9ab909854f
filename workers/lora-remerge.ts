import type { LoraSet } from '../src/core/lora/lora-set.ts';
import type { LoadedModel } from '../src/core/models/load-model.ts';
import type { ModelFiles } from '../src/core/models/model-files.ts';
import type { ProgressCallback } from '../src/core/pipeline/progress.ts';
import type { Runtime } from '../src/core/runtime/runtime.ts';

type InferenceSession = Awaited<ReturnType<Runtime['createSession']>>;

/** What a re-merge changes: the loaded model (replaced), over its files and runtime. */
interface RemergeTarget {
  model: LoadedModel;
  runtime: Runtime;
  loras?: { files: ModelFiles };
}

/** The component folder of each text encoder, in the model's order (load-model's `encoderDirs`). */
function encoderDirs(model: LoadedModel): string[] {
  if (model.textEncoders.length === 2) return ['text_encoder', 'text_encoder_2'];
  return [model.family === 'sdxl' ? 'text_encoder_2' : 'text_encoder'];
}

/**
 * New LoRA multipliers for a loaded model built with `set`: only the components whose merged
 * weights change (text encoders, UNet) get new graphs and sessions, built over the base weights
 * the set kept from the first build, so nothing of the base model is read from storage again.
 * The replaced sessions are released; `target.model` becomes the model with the new ones.
 */
export async function remergeLoras(
  target: RemergeTarget,
  set: LoraSet,
  multipliers: readonly { te: number; unet: number }[],
  onProgress: ProgressCallback,
): Promise<void> {
  const files = target.loras?.files;
  const changed = set.setMultipliers(multipliers);
  if (changed.length === 0 || files?.componentGraph === undefined) return;
  const model = target.model;
  const wanted = new Set<string>(changed);
  const dirs = encoderDirs(model);
  const components = [...dirs.filter((d) => wanted.has(d)), ...(wanted.has('unet') ? ['unet'] : [])];
  const created: InferenceSession[] = [];
  const replaced: InferenceSession[] = [];
  const build = async (component: string): Promise<InferenceSession> => {
    onProgress({ kind: 'load', component, index: created.length, count: components.length });
    const graph = (await files.componentGraph!(component))!;
    const session = await target.runtime.createSession(graph.model, graph.externalData);
    created.push(session);
    return session;
  };
  try {
    const textEncoders = [];
    for (const [i, encoder] of model.textEncoders.entries()) {
      if (!wanted.has(dirs[i]!)) textEncoders.push(encoder);
      else {
        textEncoders.push({ ...encoder, session: await build(dirs[i]!) });
        replaced.push(encoder.session);
      }
    }
    let unet = model.unet;
    if (wanted.has('unet')) {
      unet = { ...unet, session: await build('unet') };
      replaced.push(model.unet.session);
    }
    const release = model.release.bind(model);
    target.model = {
      ...model,
      textEncoders,
      unet,
      async release() {
        // a later re-merge may have released some of these already
        await Promise.all(created.map((s) => s.release().catch(() => undefined)));
        // the replaced sessions are in the first build's list too, released already below
        await release().catch(() => undefined);
      },
    };
  } catch (e) {
    await Promise.all(created.map((s) => s.release()));
    throw e;
  }
  // the old sessions stay in the earlier release lists: a second release there is ignored
  await Promise.all(replaced.map((s) => s.release().catch(() => undefined)));
}

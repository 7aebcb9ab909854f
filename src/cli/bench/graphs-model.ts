import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { SdError } from '../../core/errors.ts';
import { unetContract, vaeDecoderContract } from '../../core/models/contracts.ts';
import { textEncoderContract } from '../../core/models/contracts.ts';
import type { LoadedModel } from '../../core/models/load-model.ts';
import type { ExternalDataFile } from '../../core/runtime/runtime.ts';
import { ClipTokenizer } from '../../core/tokenizer/clip-tokenizer.ts';
import type { CountingRuntime } from './counting-runtime.ts';
import type { GraphFolders } from './graph-folders.ts';
import { stubSession } from './stub-session.ts';
import { timedModelFiles } from './timed-model-files.ts';

/**
 * SD 1.5's own `scheduler/scheduler_config.json` (PNDM, as the fixture tiny-sd15 and the released
 * model ship it), for graphs that come without one.
 */
const SD15_SCHEDULER_CONFIG = {
  _class_name: 'PNDMScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
};

const SD15_SCALING_FACTOR = 0.18215;
const EXTERNAL_DATA_NAMES = ['weights.pb', 'model.onnx_data', 'model.onnx.data'];

/** A model assembled from bare graphs; which components are stand-ins. */
export interface GraphsModel {
  model: LoadedModel;
  /** Components replaced by stand-ins that do no real work (their time is ~0). */
  stubbed: string[];
  /** Time spent reading graph and weight files, ms. */
  readMs: number;
}

/** Whether the graph bytes name an external file, i.e. its weights live outside model.onnx. */
function mentions(bytes: Uint8Array, name: string): boolean {
  const pattern = Array.from(name, (c) => c.charCodeAt(0));
  outer: for (let i = 0; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return true;
  }
  return false;
}

async function openGraph(
  dir: string,
  runtime: CountingRuntime,
): Promise<{ session: InferenceSession; readMs: number }> {
  const files = timedModelFiles(dir);
  const bytes = await files.readBytes('model.onnx');
  const externalData: ExternalDataFile[] = [];
  for (const name of EXTERNAL_DATA_NAMES) {
    if (await files.exists(name)) externalData.push({ path: name, data: await files.readBytes(name) });
    else if (name === 'weights.pb' && mentions(bytes, name)) {
      throw new SdError(
        'missing-file',
        `${dir}/model.onnx keeps its weights in weights.pb, which is missing. Write random weights first: python3 shared/bench/make_weights.py ${dir}/model.onnx (3.4 GB for the full UNet).`,
      );
    }
  }
  const session = await runtime.createSession(bytes, externalData);
  return { session, readMs: files.readMs };
}

/**
 * Text encoder stand-in: CLIP-shaped output ([1, 77, hidden] float32, small deterministic values)
 * for any ids, so the UNet loop gets conditioning of the right shape without a text model.
 */
function stubTextEncoder(runtime: CountingRuntime, hiddenSize: number): InferenceSession {
  return stubSession(
    [{ name: 'input_ids', type: 'int32', shape: ['batch', 77] }],
    [{ name: 'last_hidden_state', type: 'float32', shape: ['batch', 77, hiddenSize] }],
    (feeds: Record<string, Tensor>) => {
      const ids = feeds['input_ids']!.data as Int32Array | BigInt64Array;
      const hidden = new Float32Array(ids.length * hiddenSize);
      for (let i = 0; i < hidden.length; i++)
        hidden[i] = 0.5 * Math.sin(i * 0.37 + Number(ids[Math.floor(i / hiddenSize)]));
      return { last_hidden_state: runtime.tensor('float32', hidden, [1, ids.length, hiddenSize]) };
    },
  );
}

/** VAE decoder stand-in: a black image [1, 3, 8h, 8w] for latents [1, 4, h, w]. */
function stubVaeDecoder(runtime: CountingRuntime): InferenceSession {
  return stubSession(
    [{ name: 'latent_sample', type: 'float32', shape: ['batch', 4, 'height', 'width'] }],
    [{ name: 'sample', type: 'float32', shape: ['batch', 3, 'height', 'width'] }],
    (feeds: Record<string, Tensor>) => {
      const [b = 1, , h = 1, w = 1] = feeds['latent_sample']!.dims;
      return { sample: runtime.tensor('float32', new Float32Array(b * 3 * h * 8 * w * 8), [b, 3, h * 8, w * 8]) };
    },
  );
}

/**
 * An SD 1.5-shaped model around bare graphs (the UNet, optionally the VAE decoder): the real graphs
 * run through `runtime`; the text encoder (and a missing VAE) are stand-ins; the scheduler is SD 1.5's.
 * This lets the real pipeline loop run on full-size graphs that come without the rest of a model.
 */
export async function loadGraphsModel(
  folders: GraphFolders,
  runtime: CountingRuntime,
  merges: string,
): Promise<GraphsModel> {
  const stubbed = ['text_encoder'];
  const sessions: InferenceSession[] = [];
  let readMs = 0;
  try {
    const unetGraph = await openGraph(folders.unetDir, runtime);
    sessions.push(unetGraph.session);
    readMs += unetGraph.readMs;
    const unet = { session: unetGraph.session, contract: unetContract(unetGraph.session) };
    const hiddenSize = unet.contract.hiddenSize;
    if (hiddenSize === undefined || unet.contract.textEmbeds) {
      throw new SdError(
        'unknown-contract',
        `${folders.unetDir}/model.onnx: only SD 1.x/2.x UNets with a fixed hidden size can run without their text encoder. Benchmark this model as a full pipeline (--model DIR).`,
      );
    }
    let vaeSession: InferenceSession;
    if (folders.vaeDir) {
      const vae = await openGraph(folders.vaeDir, runtime);
      sessions.push(vae.session);
      readMs += vae.readMs;
      vaeSession = vae.session;
    } else {
      stubbed.push('vae_decoder');
      vaeSession = runtime.wrap(stubVaeDecoder(runtime));
    }
    const encoderSession = runtime.wrap(stubTextEncoder(runtime, hiddenSize));
    const model: LoadedModel = {
      label: folders.unetDir,
      family: 'sd1',
      textEncoders: [
        {
          tokenizer: ClipTokenizer.fromMerges(merges),
          padId: 49407,
          session: encoderSession,
          contract: textEncoderContract(encoderSession, 'text_encoder'),
        },
      ],
      unet,
      vaeDecoder: { session: vaeSession, contract: vaeDecoderContract(vaeSession) },
      vaeEncoder() {
        return Promise.reject(
          new SdError('bad-argument', 'The benchmark runs txt2img only: bare graphs have no VAE encoder.'),
        );
      },
      schedulerConfig: SD15_SCHEDULER_CONFIG,
      scalingFactor: SD15_SCALING_FACTOR,
      forceZerosForEmptyPrompt: false,
      requiresAestheticsScore: false,
      assumptions: [],
      async release() {
        await Promise.all(sessions.splice(0).map((s) => s.release()));
      },
    };
    return { model, stubbed, readMs };
  } catch (e) {
    await Promise.all(sessions.map((s) => s.release()));
    throw e;
  }
}

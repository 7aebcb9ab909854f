import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { folderModelFiles } from '../../../src/cli/fs-model-files.ts';
import { createNodeRuntime } from '../../../src/platform/ort/node-runtime.ts';
import { loadModel, type LoadedModel } from '../../../src/core/models/load-model.ts';
import type { ModelFiles } from '../../../src/core/models/model-files.ts';
import type { GenerateRequest } from '../../../src/core/pipeline/request.ts';
import { decodePng } from '../../../src/core/png/png.ts';
import type { Runtime } from '../../../src/core/runtime/runtime.ts';
import { CASES_DIR, type ReferenceCase } from '../../oracle/cases.ts';
import { MODELS } from '../../fixtures.ts';

/** A fixture model folder, optionally with some paths hidden (to imitate other layouts). */
export function fixtureFiles(model: string, hidden: (path: string) => boolean = () => false): ModelFiles {
  const files = folderModelFiles(resolve(MODELS, model));
  return {
    label: files.label,
    exists: async (path) => !hidden(path) && (await files.exists(path)),
    readText: (path) => files.readText(path),
    readBytes: (path) => files.readBytes(path),
  };
}

let runtime: Promise<Runtime> | undefined;

/** onnxruntime-node on the CPU, shared by the tests of one file. */
export function nodeRuntime(): Promise<Runtime> {
  runtime ??= createNodeRuntime('cpu');
  return runtime;
}

export async function loadFixture(model: string, hidden?: (path: string) => boolean): Promise<LoadedModel> {
  return loadModel(fixtureFiles(model, hidden), await nodeRuntime());
}

/** The request a reference case describes (prompt syntax as the oracle CLI run chooses it). */
export function caseRequest(c: ReferenceCase): GenerateRequest {
  const init =
    c.init_image !== undefined
      ? decodePng(new Uint8Array(readFileSync(resolve(CASES_DIR, `${c.id}.init.png`))))
      : undefined;
  return {
    prompt: c.prompt,
    negativePrompt: c.negative_prompt,
    sampler: c.sampler,
    steps: c.steps,
    cfgScale: c.cfg,
    seed: BigInt(c.seed),
    width: c.width,
    height: c.height,
    batchSize: 1,
    rng: c.rng ?? 'cpu',
    promptSyntax: c.prompt_semantics ? 'a1111' : 'diffusers',
    initImage: init && { rgb: init.rgb, width: init.width, height: init.height },
    denoisingStrength: c.strength,
  };
}

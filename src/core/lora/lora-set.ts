import { SdError } from '../errors.ts';
import type { WeightPatch } from '../graphs/safetensors-weights.ts';
import { addLoraDelta, fitsWeight } from './lora-delta.ts';
import type { LoraFile, LoraModule } from './lora-file.ts';
import { loraModuleNames, type LoraComponent, type LoraNaming } from './lora-module-names.ts';

/** One LoRA applied to a model, with its multipliers (A1111's `<lora:NAME:TE:UNET>`). */
export interface AppliedLora {
  file: LoraFile;
  /** Multiplier of the text-encoder modules. */
  te: number;
  /** Multiplier of the UNet modules. */
  unet: number;
}

/** How much of one LoRA file found a place in the model. */
export interface LoraPlacement {
  name: string;
  /** Modules (down/up pairs) in the file. */
  modules: number;
  /** Modules merged into a weight of the model. */
  placed: number;
  /** The file's keys that patch nothing (modules of no weight of the model, or of another shape; LoHa/LoKr keys), first ones first. */
  unplacedKeys: string[];
}

/** A patch of one component: which of its weights the LoRAs change, and the change. */
export interface LoraComponentPatch extends WeightPatch {
  /** Adds every applied LoRA's update for weight `key` to its base values. */
  apply(key: string, values: Float32Array): Promise<void>;
}

const TEXT_ENCODERS: readonly LoraComponent[] = ['text_encoder', 'text_encoder_2'];

/**
 * The LoRAs applied to one model, merged into its weights when each component's graph is built:
 * W' = W + multiplier · (alpha / rank) · up @ down for every module that names one of the
 * component's weights (see {@link loraModuleNames}). Which weights are patched depends only on the
 * files, not on the multipliers: {@link setMultipliers} keeps the graphs' layout, so a component
 * rebuilt afterwards re-merges only its patched tensors (its other weights, mounted or converted,
 * can be kept from the earlier build: {@link baseData}).
 */
export class LoraSet {
  private loras: AppliedLora[];
  /** Module names placed so far, per LoRA (by index). */
  private readonly placed = new Map<LoraFile, Set<string>>();
  private readonly bases = new Map<string, unknown>();

  constructor(
    loras: readonly AppliedLora[] = [],
    /** Keep each component's unpatched external data (see {@link baseData}) for re-merges. */
    readonly keepsBaseData = false,
  ) {
    this.loras = [...loras];
  }

  get applied(): readonly AppliedLora[] {
    return this.loras;
  }

  get isEmpty(): boolean {
    return this.loras.length === 0;
  }

  /**
   * New multipliers for the same files (in the same order): returns the components whose merged
   * weights change, the only ones to rebuild. Throws when the files differ (open a new set then).
   */
  setMultipliers(multipliers: readonly { te: number; unet: number }[]): LoraComponent[] {
    if (multipliers.length !== this.loras.length) {
      throw new SdError('bad-argument', `${multipliers.length} multipliers given for ${this.loras.length} LoRAs.`);
    }
    const changed = new Set<LoraComponent>();
    this.loras = this.loras.map((l, i) => {
      const m = multipliers[i]!;
      if (m.te !== l.te) for (const c of TEXT_ENCODERS) changed.add(c);
      if (m.unet !== l.unet) changed.add('unet');
      return { ...l, te: m.te, unet: m.unet };
    });
    return [...changed];
  }

  /**
   * The external data a component had before patching, kept by the first build when the set was
   * made with `keepsBaseData` (the layout of the unpatched weights does not change with the multipliers).
   */
  baseData<T>(component: string, make: () => Promise<T>): Promise<T> {
    if (!this.keepsBaseData) return make();
    let kept = this.bases.get(component) as Promise<T> | undefined;
    if (kept === undefined) {
      kept = make();
      this.bases.set(component, kept);
      kept.catch(() => this.bases.delete(component));
    }
    return kept;
  }

  /**
   * The patch of one component's weights, located at `location` (its own float32 buffer). Modules
   * whose factors do not fit the weight's shape are left unplaced (a LoRA of another model size).
   * Returns undefined when no LoRA is applied.
   */
  patchFor(naming: LoraNaming, location: string): LoraComponentPatch | undefined {
    if (this.loras.length === 0) return undefined;
    const isText = naming.component !== 'unet';
    const matches = new Map<string, { lora: AppliedLora; module: LoraModule }[]>();
    const touches = (key: string, shape: readonly number[]): boolean => {
      const found: { lora: AppliedLora; module: LoraModule }[] = [];
      for (const lora of this.loras) {
        for (const name of loraModuleNames(key, naming)) {
          const module = lora.file.modules.get(name);
          if (module === undefined || !fitsWeight(module.up.shape, module.down.shape, shape)) continue;
          found.push({ lora, module });
          this.placedOf(lora.file).add(name);
          break;
        }
      }
      if (found.length > 0) matches.set(key, found);
      return found.length > 0;
    };
    const apply = async (key: string, values: Float32Array): Promise<void> => {
      for (const { lora, module } of matches.get(key) ?? []) {
        // the current multipliers, not those at bind time: setMultipliers re-merges with the same graph
        const current = this.loras.find((l) => l.file === lora.file) ?? lora;
        const multiplier = isText ? current.te : current.unet;
        if (multiplier === 0) continue;
        const { up, down } = await lora.file.factors(module);
        addLoraDelta(values, up, down, module.rank, (multiplier * module.alpha) / module.rank);
      }
    };
    return { location, touches, apply };
  }

  /** How many modules of each file were placed in the components built so far. */
  placements(): LoraPlacement[] {
    return this.loras.map(({ file }) => {
      const placed = this.placedOf(file);
      const unplaced = [...file.modules.values()].filter((m) => !placed.has(m.name)).map((m) => m.down.name);
      return {
        name: file.name,
        modules: file.modules.size,
        placed: placed.size,
        unplacedKeys: [...unplaced, ...file.unusableKeys],
      };
    });
  }

  /**
   * After the model's text encoders and UNet were built: refuses a file none of whose modules
   * found a weight (a LoRA for another architecture), naming it and the first keys it could not
   * place; returns one warning per file placed only in part (AUTOMATIC1111 warns too).
   */
  check(): string[] {
    const warnings: string[] = [];
    for (const p of this.placements()) {
      const first = p.unplacedKeys.slice(0, 3).join(', ');
      if (p.placed === 0) {
        throw new SdError(
          'unsupported-model',
          `LoRA ${p.name} does not fit this model: none of its ${p.modules} modules names a weight of it (e.g. ${first}). ` +
            'It was made for another architecture (an SDXL LoRA on an SD 1.x model, or the reverse): use a LoRA made for this model.',
        );
      }
      if (p.unplacedKeys.length > 0)
        warnings.push(
          `LoRA ${p.name}: ${p.placed} of ${p.modules} modules applied; ${p.unplacedKeys.length} keys fit no weight of this model (e.g. ${first}).`,
        );
    }
    return warnings;
  }

  private placedOf(file: LoraFile): Set<string> {
    let set = this.placed.get(file);
    if (set === undefined) this.placed.set(file, (set = new Set()));
    return set;
  }
}

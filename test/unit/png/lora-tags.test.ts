import { describe, expect, it } from 'vitest';
import { loraTags, removeLoraTags } from '../../../src/core/png/lora-tags.ts';

describe('LoRA prompt tags', () => {
  it('reads <lora:NAME:MULT> anywhere (default 1) and <lora:NAME:TE:UNET>', () => {
    expect(loraTags('<lora:style:0.8> a cat, <lora:other> (dog:1.2) <lora:both:0.5:1.5>')).toEqual([
      { name: 'style', te: 0.8, unet: 0.8 },
      { name: 'other', te: 1, unet: 1 },
      { name: 'both', te: 0.5, unet: 1.5 },
    ]);
  });

  it('removes every tag from the text the encoder sees, leaving the rest (and its emphasis syntax) as it was', () => {
    expect(removeLoraTags('a watercolor painting <lora:tiny-sd15-lora:0.8>')).toBe('a watercolor painting ');
    expect(removeLoraTags('<lora:a:1>(a cat:1.2), <lora:b:0.5:1> BREAK dog')).toBe('(a cat:1.2),  BREAK dog');
    expect(removeLoraTags('no tags <hypernet:x:1>')).toBe('no tags <hypernet:x:1>');
  });
});

import { describe, expect, it } from 'vitest';
import { defaultSizeOf } from '../../../src/core/models/default-size.ts';

describe('defaultSizeOf', () => {
  it('is 1024 px for SDXL and 512 px for SD 1.x and SD 2.x', () => {
    expect([defaultSizeOf('sd1'), defaultSizeOf('sd2'), defaultSizeOf('sdxl')]).toEqual([512, 512, 1024]);
  });
});

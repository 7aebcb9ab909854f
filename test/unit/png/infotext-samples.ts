/**
 * Infotexts shaped as each tool writes them (values made up). Expected values in the tests were checked
 * against A1111 1.10's `parse_generation_parameters` run on these exact strings.
 */
export const SAMPLES = {
  a1111: [
    'masterpiece, best quality, 1girl, solo, <lora:add_detail:0.6>, (looking at viewer:1.2),',
    'city street at night, <lora:neon_v2:0.8:0.5>',
    'Negative prompt: (worst quality, low quality:1.4), easynegative, bad-hands-5',
    'Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 2945104519, Size: 512x768, ' +
      'Model hash: 7f96a1a9ca, Model: anything-v5, Denoising strength: 0.45, Clip skip: 2, Hires upscale: 2, ' +
      'Hires steps: 15, Hires upscaler: R-ESRGAN 4x+ Anime6B, Lora hashes: "add_detail: 7c6bb1b4d2c9, neon_v2: 0a1b2c3d4e5f", ' +
      'TI hashes: "easynegative: c74b4e810b03, bad-hands-5: aa7651be154c", Emphasis: Original, Version: v1.10.1',
  ].join('\n'),
  forge: [
    'score_9, score_8_up, 1girl, <lora:sdxl_lightning_8step_lora:1>, detailed eyes',
    'Negative prompt: score_4, score_5, blurry',
    'Steps: 8, Sampler: Euler, Schedule type: SGM Uniform, CFG scale: 1.5, Seed: 1234567890, Size: 832x1216, ' +
      'Model hash: 67ab2fd8ec, Model: ponyDiffusionV6XL_v6StartWithThisOne, VAE hash: 235745af8d, VAE: sdxl_vae.safetensors, ' +
      'Clip skip: 2, ADetailer model: face_yolov8n.pt, ADetailer confidence: 0.3, ADetailer dilate erode: 4, ' +
      'ADetailer inpaint only masked: True, ADetailer version: 24.8.0, ' +
      'ControlNet 0: "Module: canny, Model: diffusers_xl_canny_mid [112a778d], Weight: 0.75, Resize Mode: Crop and Resize, ' +
      'Processor Res: 512, Guidance Start: 0.0, Guidance End: 0.8, Pixel Perfect: False, Control Mode: Balanced", ' +
      'Lora hashes: "sdxl_lightning_8step_lora: 9a1b2c3d4e5f", Version: f2.0.1v1.10.1-previous-313-g8a042934, Module 1: sdxl_vae',
  ].join('\n'),
  sdnext: [
    'a cozy cabin in the snowy woods, warm light from the windows',
    'Negative prompt: lowres, watermark',
    'Steps: 20, Seed: 3142957520, Sampler: DPM++ 2M, CFG scale: 6, Size: 1024x1024, Batch: 1x1, Parser: Full parser, ' +
      'Model: sd_xl_base_1.0, Model hash: 31e35c80fc, Backend: Diffusers, App: SD.Next, Version: 6c5d4bb, ' +
      'Operations: txt2img, Pipeline: StableDiffusionXLPipeline',
    'Template:a cozy {cabin|house} in the snowy woods, (warm light:1.1) from the windows, {day|night}: {winter|autumn}',
    'Negative Template:lowres, watermark',
  ].join('\n'),
  civitai: [
    'cinematic photo of a red fox in a misty forest, <lora:FoxStyle_v2:0.8>, 35mm photograph, film, bokeh',
    'Negative prompt: drawing, painting, crayon, sketch, graphite',
    'Steps: 30, Sampler: DPM++ 2M SDE Karras, CFG scale: 5, Seed: 884209461, Size: 832x1216, Clip skip: 2, ' +
      'Created Date: 2024-06-12T2148:35.1234567Z, Civitai resources: [{"type":"checkpoint","modelVersionId":128078,' +
      '"modelName":"SDXL","modelVersionName":"v1.0 VAE fix"},{"type":"lora","weight":0.8,"modelVersionId":304060,' +
      '"modelName":"Fox Style","modelVersionName":"v2"}], Civitai metadata: {}',
  ].join('\n'),
  a1111old: [
    'a photo of an astronaut riding a horse on mars',
    'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Face restoration: CodeFormer, Size: 512x512, ' +
      'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, ENSD: 31337, ' +
      'Hashes: "{\\"vae\\": \\"c6a580b13a\\", \\"model\\": \\"6ce0161689\\"}", 風格: 水彩, Größe: groß, Version: v1.5.1',
  ].join('\n'),
} as const;

#!/usr/bin/env bash
# Benchmark on the lent GPU machine (NVIDIA H100 / H200) through WebGPU: onnxruntime-web's WebGPU EP
# on Dawn for Node, the same code path as the browser. Two steps:
#
#   bash bench/gpu-run.sh prepare     here, once: fills scratch/gpu-carry/ (about 45 MB, under the
#                                     device tool's 64 MiB carry limit)
#   then the device tool, in one call:
#     run(command="bash bench/gpu-run.sh device", carry=["scratch/gpu-carry"], timeout_s=540)
#
# "device" unpacks Node and the Vulkan loader libraries, writes random weights for the full-size
# SD 1.5 graphs (3.4 GB), then runs `bench` three times and writes JSON (and logs) to $OUT:
#   tiny-sd15-webgpu.json    the real pipeline (text encoder, UNet, VAE) on the tiny fixture model:
#                            pipeline overhead and GPU->CPU reads per step
#   sd15-512-b2.json         full-size UNet, batch 2 (CFG), 512x512, 20 steps, 3 runs + bare UNet loop
#   nvidia-smi.csv           GPU memory sampled every 500 ms during the runs (peak = device memory)
# About 4 minutes of device time: weights 1 min, session creation ~30 s, 4 x 20 steps + 60 bare calls
# at ~0.6 s each. Settings (environment): SIZE=512 STEPS=20 RUNS=3 BATCH=2 (--cfg-batch), ICD (Vulkan driver
# manifest), ONLY_TINY=1 to skip the full-size graphs (a dry run; with ICD pointing at SwiftShader it
# runs on a machine without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=scratch/gpu-carry

prepare() {
  rm -rf "$CARRY" && mkdir -p "$CARRY/debs" "$CARRY/graphs" "$CARRY/models"
  # one ESM file: the bench and the core, with the packages that ship binaries left outside
  node_modules/.bin/esbuild src/cli/bench.ts --bundle --platform=node --format=esm --target=node20 \
    --external:onnxruntime-web --external:onnxruntime-node --external:webgpu \
    --log-level=warning --outfile="$CARRY/bench.mjs"
  local web=node_modules/onnxruntime-web gpu=node_modules/webgpu
  mkdir -p "$CARRY/$web/dist" "$CARRY/$gpu/dist/linux-x64"
  cp "$web/package.json" "$web/dist/ort.webgpu.bundle.min.mjs" "$web/dist/ort-wasm-simd-threaded.asyncify.mjs" "$CARRY/$web/"
  mv "$CARRY/$web/"*.mjs "$CARRY/$web/dist/"
  xz -T0 -c "$web/dist/ort-wasm-simd-threaded.asyncify.wasm" > "$CARRY/$web/dist/ort-wasm-simd-threaded.asyncify.wasm.xz"
  cp "$gpu/package.json" "$gpu/index.js" "$CARRY/$gpu/"
  xz -T0 -c "$gpu/dist/linux-x64/dawn.node" > "$CARRY/$gpu/dist/linux-x64/dawn.node.xz"
  xz -T0 -c "$(command -v node)" > "$CARRY/node.xz"
  # the GPU machine has the NVIDIA driver but not the Vulkan loader and GL dispatch libraries Dawn loads
  (cd "$CARRY/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
  local shared=../shared
  for g in sd15-unet sd15-vae-decoder; do mkdir -p "$CARRY/graphs/$g" && cp "$shared/bench/$g/model.onnx" "$CARRY/graphs/$g/"; done
  cp "$shared/bench/make_weights.py" "$CARRY/"
  cp -r "$shared/fixtures/models/tiny-sd15" "$CARRY/models/"
  chmod -R u+w "$CARRY"
  du -sh "$CARRY"
}

device() {
  local size=${SIZE:-512} steps=${STEPS:-20} runs=${RUNS:-3} batch=${BATCH:-2}
  local icd=${ICD:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  local out=${OUT:-$PWD/out} work=/tmp/gpu-bench
  # unpack beside the carry, at the same depth: the bundle finds public/clip/merges.txt at ../../public
  local app=scratch/gpu-run
  mkdir -p "$out" "$work" && rm -rf "$app" && cp -r "$CARRY" "$app"
  find "$app" -name '*.xz' -exec xz -d -f {} +
  chmod +x "$app/node"
  for d in "$app"/debs/*.deb; do dpkg -x "$d" /; done
  ldconfig
  export VK_ICD_FILENAMES=$icd XDG_RUNTIME_DIR=/tmp
  NODE="$app/node"
  local bench="$app/bench.mjs"
  "$NODE" --version
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,name,memory.used,utilization.gpu --format=csv -lms 500 > "$out/nvidia-smi.csv" &
    trap 'kill $! 2>/dev/null || true' EXIT
  fi

  echo "== tiny-sd15 pipeline, webgpu, 64x64, $steps steps"
  "$NODE" "$bench" --model "$app/models/tiny-sd15" --backend webgpu --size 64 --steps "$steps" --runs "$runs" \
    > "$out/tiny-sd15-webgpu.json" 2> "$out/tiny-sd15-webgpu.log" || { tail -20 "$out/tiny-sd15-webgpu.log"; exit 1; }
  summary "$out/tiny-sd15-webgpu.json"
  if [ "${ONLY_TINY:-0}" != 1 ]; then
    rm -rf "$work/graphs" && cp -r "$app/graphs" "$work/graphs"
    for g in "$work"/graphs/*/model.onnx; do python3 "$app/make_weights.py" "$g"; done
    echo "== full-size SD 1.5 graphs, webgpu, ${size}x${size}, batch $batch, $steps steps"
    "$NODE" "$bench" --model "$work/graphs" --backend webgpu --size "$size" --cfg-batch "$batch" --steps "$steps" --runs "$runs" \
      > "$out/sd15-$size-b$batch.json" 2> "$out/sd15-$size-b$batch.log" || { tail -20 "$out/sd15-$size-b$batch.log"; exit 1; }
    summary "$out/sd15-$size-b$batch.json"
  fi
}

# The headline figures of one report, for the tool's output tail.
summary() {
  "$NODE" -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const s = r.stages, b = r.bareUnet;
    console.log(JSON.stringify({ adapter: r.adapter, sessionCreateMs: s.sessionCreateMs.median, unetStepMs: s.unetStepMs,
      bareCallMs: b && b.callMs, stepVsBarePercent: b && b.stepVsBarePercent, vaeDecodeMs: s.vaeDecodeMs.median,
      totalMs: s.totalMs.median, overhead: r.overhead.schedulerAndGuidancePercent.median, reads: r.reads, memory: r.memory }));' "$1"
}

case "${1:-}" in
  prepare) prepare ;;
  device) device ;;
  *) echo "usage: bash bench/gpu-run.sh prepare|device" >&2; exit 2 ;;
esac

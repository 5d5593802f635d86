// Profiling WebGPU code that is not wgprof's engine: attach a Profiler to your device, bracket each
// iteration with step(), and stop() writes the Kineto trace.
//   node scripts/run-ts.mjs examples/profile-any-webgpu.ts [OUT_DIR]
// In your own project: `import { Profiler, parseProfilerConfig, requestGpuDevice } from 'wgprof'`.
import { Profiler, parseProfilerConfig, requestGpuDevice } from '../src/index.js';

const dir = process.argv[2] ?? './wgprof_traces';
const config = parseProfilerConfig({
  profiler: 'torch',
  torch_profiler_dir: dir,
  delay_iterations: 2, // skip the first iteration (pipeline warm-up): capture from the 2nd on
  max_iterations: 3, // then capture 3 iterations and write the trace on its own
  ignore_frontend: true,
  torch_profiler_with_memory: true,
});

const { device, facts, destroy } = await requestGpuDevice();
const profiler = new Profiler(config, { workerName: 'saxpy-demo' });
profiler.attach(device, facts); // before creating buffers, so [memory] events see them

const n = 1 << 16;
const module = device.createShaderModule({
  label: 'saxpy',
  code: /* wgsl */ `
    @group(0) @binding(0) var<storage, read> x: array<f32>;
    @group(0) @binding(1) var<storage, read_write> y: array<f32>;
    @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
      if (id.x < arrayLength(&y)) { y[id.x] = 2.0 * x[id.x] + y[id.x]; }
    }`,
});
const pipeline = device.createComputePipeline({ label: 'saxpy', layout: 'auto', compute: { module, entryPoint: 'main' } });
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
const x = device.createBuffer({ label: 'x', size: 4 * n, usage });
const y = device.createBuffer({ label: 'y', size: 4 * n, usage });
device.queue.writeBuffer(x, 0, new Float32Array(n).fill(1));
const bindGroup = device.createBindGroup({
  layout: pipeline.getBindGroupLayout(0),
  entries: [
    { binding: 0, resource: { buffer: x } },
    { binding: 1, resource: { buffer: y } },
  ],
});

profiler.start(); // vLLM's /start_profile
for (let iteration = 0; iteration < 6; iteration++) {
  profiler.step(); // first thing in every iteration, as vLLM's worker does
  profiler.beginIteration(`saxpy_iteration_${iteration}`);
  const encoder = device.createCommandEncoder();
  for (let k = 0; k < 4; k++) {
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(n / 64);
    pass.end();
  }
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  profiler.endIteration();
}
const files = await profiler.stop(); // vLLM's /stop_profile: resolves once every file is written
console.log(files.length ? `wrote:\n  ${files.join('\n  ')}` : 'no trace written');
profiler.detach();
destroy();

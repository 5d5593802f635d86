// A tiny timed kernel: proves a device computes correctly and reads raw timestamp ticks
// (`wgprof doctor`, tests). One pass per dispatch with `timestampWrites`, one resolve, one map.

const PROBE_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i < arrayLength(&data)) {
    var x = data[i];
    for (var k = 0u; k < 64u; k++) { x = x * 1.0001 + 0.5; }
    data[i] = x;
  }
}`;

export interface ProbeResult {
  /** Max |GPU - CPU reference| over the output; Infinity when an output is NaN. */
  maxAbsError: number;
  /** Outputs that are NaN (always 0 on a working device). */
  nanCount: number;
  /** Raw ticks, begin/end per pass (empty without timestamp-query). */
  ticks: bigint[];
  /** GPU durations per pass, ns (empty without timestamp-query). */
  durationsNs: number[];
  validationError?: string;
}

export async function runProbe(device: GPUDevice, passes = 8, elements = 4096): Promise<ProbeResult> {
  const input = new Float32Array(elements).map((_, i) => (i % 97) / 97);
  const expected = input.map((v) => {
    let x = v;
    for (let k = 0; k < passes * 64; k++) x = Math.fround(Math.fround(x * Math.fround(1.0001)) + 0.5);
    return x;
  });
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ label: 'wgprof_probe', code: PROBE_WGSL });
  const pipeline = device.createComputePipeline({ label: 'wgprof_probe', layout: 'auto', compute: { module, entryPoint: 'main' } });
  const data = device.createBuffer({
    label: 'wgprof_probe.data',
    size: input.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const readback = device.createBuffer({ label: 'wgprof_probe.readback', size: input.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(data, 0, input);
  const bindGroup = device.createBindGroup({
    label: 'wgprof_probe',
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: data } }],
  });
  const timed = device.features.has('timestamp-query');
  const querySet = timed ? device.createQuerySet({ label: 'wgprof_probe.queries', type: 'timestamp', count: passes * 2 }) : undefined;
  const resolve = timed
    ? device.createBuffer({ label: 'wgprof_probe.resolve', size: passes * 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
    : undefined;
  const ticksBuffer = timed
    ? device.createBuffer({ label: 'wgprof_probe.ticks', size: passes * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    : undefined;
  const encoder = device.createCommandEncoder({ label: 'wgprof_probe' });
  for (let p = 0; p < passes; p++) {
    const pass = encoder.beginComputePass(
      querySet
        ? { label: 'wgprof_probe', timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * p, endOfPassWriteIndex: 2 * p + 1 } }
        : { label: 'wgprof_probe' },
    );
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(elements / 64));
    pass.end();
  }
  encoder.copyBufferToBuffer(data, 0, readback, 0, input.byteLength);
  if (querySet && resolve && ticksBuffer) {
    encoder.resolveQuerySet(querySet, 0, passes * 2, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, ticksBuffer, 0, passes * 16);
  }
  device.queue.submit([encoder.finish()]);
  const validation = await device.popErrorScope();
  await readback.mapAsync(GPUMapMode.READ);
  const output = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  let ticks: bigint[] = [];
  if (ticksBuffer) {
    await ticksBuffer.mapAsync(GPUMapMode.READ);
    ticks = [...new BigUint64Array(ticksBuffer.getMappedRange().slice(0))];
    ticksBuffer.unmap();
  }
  for (const b of [data, readback, resolve, ticksBuffer]) b?.destroy();
  querySet?.destroy();
  // A NaN output is an infinite error, so `maxAbsError > tolerance` catches it. It is returned rather than
  // thrown: the null backend runs no kernel and leaves garbage that callers are free to ignore.
  let maxAbsError = 0;
  let nanCount = 0;
  for (let i = 0; i < elements; i++) {
    const diff = Math.abs((output[i] ?? NaN) - (expected[i] ?? NaN));
    if (Number.isNaN(diff)) nanCount++;
    maxAbsError = Math.max(maxAbsError, Number.isNaN(diff) ? Infinity : diff);
  }
  const durationsNs: number[] = [];
  for (let p = 0; p + 1 < ticks.length; p += 2) durationsNs.push(Number((ticks[p + 1] ?? 0n) - (ticks[p] ?? 0n)));
  const result: ProbeResult = { maxAbsError, nanCount, ticks, durationsNs };
  if (validation) result.validationError = validation.message;
  return result;
}

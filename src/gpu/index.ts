export { requestGpuDevice, timestampModeOf, describeAdapter, SWIFTSHADER_ICD_CANDIDATES, DAWN_UNQUANTIZED_TIMESTAMPS } from './device.js';
export type { GpuBackend, GpuDeviceOptions, GpuRuntime, AdapterFacts, TimestampMode } from './device.js';

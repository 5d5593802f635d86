// GPU instrumentation: attach to one device, capture dispatches, copies and memory with GPU times
// aligned onto the CPU clock. See instrumentation.ts for the rooms, costs and limits.
export { Instrumentation, bindGroupBufferBytes, emptyCaptureStats } from './instrumentation.js';
export type { InstrumentationOptions, Captured, CaptureStats, SubmitRecord, WindowHandle } from './instrumentation.js';
export { alignClock, mapInterval, offsetBounds, CLOCK_METHODS } from './clock.js';
export type { SubmitSample, AlignClockOptions, ClockAlignment } from './clock.js';
export { MemoryTracker, textureBytes } from './memory.js';
export { parseWorkgroupMemoryBytes, parseWorkgroupSize } from './wgsl.js';
export { noteDispatch, setHintReceiver } from './hints.js';
export type { DispatchHint, HintReceiver } from './hints.js';

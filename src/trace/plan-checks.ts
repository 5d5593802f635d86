// Checking a CaptureRecord before anything is planned or written: every field the writer relies on,
// once per event, with an error that names the field, what it holds and what was expected. A bad
// record throws WgprofError TRACE_INVALID_RECORD before any byte is produced.

import type { CaptureRecord, TraceMeta } from '../capture/model.js';
import { WgprofError } from '../util/errors.js';

/** Kineto's memcpy names (CuptiActivity.h `memcpyName`) for WebGPU's three copy directions. */
export const MEMCPY_NAMES = {
  HtoD: 'Memcpy HtoD (Pageable -> Device)',
  DtoD: 'Memcpy DtoD (Device -> Device)',
  DtoH: 'Memcpy DtoH (Device -> Pageable)',
} as const;

function invalid(field: string, given: unknown, expected: string): WgprofError {
  const shown = typeof given === 'bigint' ? `${given}n` : typeof given === 'string' ? JSON.stringify(given) : String(given);
  return new WgprofError('TRACE_INVALID_RECORD', `${field} is ${shown}; expected ${expected}. The capture record is malformed: fix the code that produced it.`);
}

function checkId(list: string, index: number, field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${list}[${index}].${field}`, value, 'an integer >= 0');
}

function checkString(list: string, index: number, field: string, value: unknown): void {
  if (typeof value !== 'string') throw invalid(`${list}[${index}].${field}`, value, 'a string');
}

function checkInt(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw invalid(field, value, `an integer >= ${min}`);
  return value;
}

/** A finite ns time; `list[index].field` names it in the error (built only on failure: this runs per event). */
function checkNs(list: string, index: number, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalid(`${list}[${index}].${field}`, value, 'a finite number of ns since performance.timeOrigin');
  return value;
}

export function checkMeta(record: CaptureRecord): TraceMeta {
  if (record === null || typeof record !== 'object') throw invalid('record', record, 'a CaptureRecord object');
  for (const key of ['steps', 'cpuSpans', 'dispatches', 'copies', 'memory'] as const) {
    if (!Array.isArray(record[key])) throw invalid(`record.${key}`, record[key], 'an array (possibly empty)');
  }
  const meta = record.meta;
  if (meta === null || typeof meta !== 'object') throw invalid('record.meta', meta, 'a TraceMeta object');
  if (typeof meta.timeOriginEpochNs !== 'bigint' || meta.timeOriginEpochNs <= 0n) {
    throw invalid('meta.timeOriginEpochNs', meta.timeOriginEpochNs, 'a positive bigint (performance.timeOrigin in epoch ns)');
  }
  if (typeof meta.workerName !== 'string') throw invalid('meta.workerName', meta.workerName, 'a string');
  checkInt('meta.pid', meta.pid, 0);
  checkInt('meta.tid', meta.tid, 0);
  checkInt('meta.rank', meta.rank, 0);
  checkInt('meta.worldSize', meta.worldSize, 1);
  checkInt('meta.deviceIndex', meta.deviceIndex, 0);
  checkInt('meta.streamId', meta.streamId, 1);
  if (meta.pid === meta.deviceIndex) {
    throw invalid(
      'meta.pid',
      meta.pid,
      `a host pid different from meta.deviceIndex (${meta.deviceIndex}), because GPU events use the device index as their pid`,
    );
  }
  return meta;
}

/** Checks every event field the writers rely on and returns the earliest time in the record, ns (0 when empty). */
export function checkEvents(record: CaptureRecord, withMemory: boolean): number {
  const { steps, dispatches, copies, cpuSpans, memory } = record;
  let minNs = Infinity;
  const see = (ns: number): void => {
    if (ns < minNs) minNs = ns;
  };
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (!Number.isSafeInteger(s.number) || s.number < 0) checkInt(`steps[${i}].number`, s.number, 0);
    see(checkNs('steps', i, 'startNs', s.startNs));
    see(checkNs('steps', i, 'endNs', s.endNs));
    if (s.annotationStartNs !== undefined) checkNs('steps', i, 'annotationStartNs', s.annotationStartNs);
    if (s.annotationEndNs !== undefined) checkNs('steps', i, 'annotationEndNs', s.annotationEndNs);
    if (s.annotation !== undefined) checkString('steps', i, 'annotation', s.annotation);
  }
  for (let i = 0; i < dispatches.length; i++) {
    const d = dispatches[i]!;
    see(checkNs('dispatches', i, 'opStartNs', d.opStartNs));
    see(checkNs('dispatches', i, 'opEndNs', d.opEndNs));
    checkNs('dispatches', i, 'launchStartNs', d.launchStartNs);
    checkNs('dispatches', i, 'launchEndNs', d.launchEndNs);
    checkId('dispatches', i, 'externalId', d.externalId);
    checkId('dispatches', i, 'correlation', d.correlation);
    if (typeof d.kernel !== 'string') checkString('dispatches', i, 'kernel', d.kernel);
    if (typeof d.launch !== 'string') checkString('dispatches', i, 'launch', d.launch);
    if (d.opName !== undefined) checkString('dispatches', i, 'opName', d.opName);
    if (d.args !== undefined && (d.args === null || typeof d.args !== 'object' || Array.isArray(d.args))) {
      throw invalid(`dispatches[${i}].args`, d.args, 'an object of string, number or boolean values');
    }
    if (!Array.isArray(d.workgroups)) throw invalid(`dispatches[${i}].workgroups`, d.workgroups, 'an array [x, y, z]');
    if (d.workgroupMemoryBytes !== undefined) checkId('dispatches', i, 'workgroupMemoryBytes', d.workgroupMemoryBytes);
    if (d.gpuStartNs !== undefined) see(checkNs('dispatches', i, 'gpuStartNs', d.gpuStartNs));
    if (d.gpuEndNs !== undefined) see(checkNs('dispatches', i, 'gpuEndNs', d.gpuEndNs));
  }
  for (let i = 0; i < copies.length; i++) {
    const c = copies[i]!;
    see(checkNs('copies', i, 'launchStartNs', c.launchStartNs));
    see(checkNs('copies', i, 'launchEndNs', c.launchEndNs));
    checkId('copies', i, 'externalId', c.externalId);
    checkId('copies', i, 'correlation', c.correlation);
    checkId('copies', i, 'bytes', c.bytes);
    checkString('copies', i, 'launch', c.launch);
    if (!(c.kind in MEMCPY_NAMES)) throw invalid(`copies[${i}].kind`, c.kind, '"HtoD", "DtoD" or "DtoH"');
    if (c.gpuStartNs !== undefined) see(checkNs('copies', i, 'gpuStartNs', c.gpuStartNs));
    if (c.gpuEndNs !== undefined) see(checkNs('copies', i, 'gpuEndNs', c.gpuEndNs));
  }
  for (let i = 0; i < cpuSpans.length; i++) {
    const s = cpuSpans[i]!;
    see(checkNs('cpuSpans', i, 'startNs', s.startNs));
    see(checkNs('cpuSpans', i, 'endNs', s.endNs));
    checkString('cpuSpans', i, 'name', s.name);
    if (s.cat !== 'cpu_op' && s.cat !== 'user_annotation' && s.cat !== 'python_function')
      throw invalid(`cpuSpans[${i}].cat`, s.cat, '"cpu_op", "user_annotation" or "python_function"');
  }
  if (withMemory) {
    for (let i = 0; i < memory.length; i++) {
      const r = memory[i]!;
      see(checkNs('memory', i, 'tsNs', r.tsNs));
      for (const key of ['addr', 'bytes', 'totalAllocatedBytes', 'totalReservedBytes'] as const) {
        if (!Number.isSafeInteger(r[key])) throw invalid(`memory[${i}].${key}`, r[key], 'an integer number of bytes (addr: an integer)');
      }
    }
  }
  return minNs === Infinity ? 0 : minNs;
}

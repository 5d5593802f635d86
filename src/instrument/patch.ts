// Own-property patching (STYLE §8: explicit and scoped): methods defined as OWN properties of one
// object (a device, its queue), never on a shared prototype, so other objects see no change, and
// restore() puts back exactly what was there (or deletes ours). Used by the instrumentation and by the
// 'cuda'-mode range marker.

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type Method = Function;

export class OwnPatch<T extends object> {
  /** Own properties we defined, with what was there before (undefined = nothing). */
  private readonly saved = new Map<string, PropertyDescriptor | undefined>();

  constructor(readonly target: T) {}

  /**
   * Defines `name` as an own, non-enumerable method (like a WebIDL operation), remembering what was there.
   * `wrap` receives the original as a getter evaluated at call time: the own method that was there
   * before ours, else the prototype's method as it is then (so prototype patches made after ours,
   * e.g. onnxruntime-web's writeBuffer fix in Node, still run).
   */
  define(name: string, wrap: (original: () => Method) => Method): void {
    const before = Object.getOwnPropertyDescriptor(this.target, name);
    if (!this.saved.has(name)) this.saved.set(name, before);
    const own = before?.value as unknown;
    const proto = Object.getPrototypeOf(this.target) as Record<string, Method>;
    const original = typeof own === 'function' ? () => own as Method : () => proto[name]!;
    Object.defineProperty(this.target, name, { value: wrap(original), configurable: true, writable: true, enumerable: false });
  }

  /** Puts back every property defined through this patch. */
  restore(): void {
    for (const [name, descriptor] of this.saved) {
      if (descriptor) Object.defineProperty(this.target, name, descriptor);
      else delete (this.target as Record<string, unknown>)[name];
    }
    this.saved.clear();
  }
}

/** Defines methods as non-enumerable properties of a prototype object we built (like WebIDL operations). */
export function defineMethods(target: object, methods: Record<string, Method>): void {
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(target, name, { value: fn, configurable: true, writable: true, enumerable: false });
  }
}

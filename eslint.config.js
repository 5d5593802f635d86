// ESLint (flat config): typescript-eslint's recommended rules over the TypeScript and JavaScript
// sources; formatting is Prettier's (`npm run format:check`), so no style rules here.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', 'test-results/', 'playwright-report/', 'bench-results/', '.wgprof-tmp/', 'coverage/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node, ...globals.browser },
    },
    rules: {
      // Unused names are tsc's job (noUnusedLocals / noUnusedParameters); `_`-prefixed ones are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // A `let` assigned once after the closures that read it (declared first so they can) stays a `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Patched methods and registered callbacks keep the object they belong to under one name.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self', 'ledger', 'timer'] }],
      // Escaping JSON strings and Kineto names means matching control characters on purpose.
      'no-control-regex': 'off',
      'no-console': 'off',
    },
  },
  {
    // The patched WebGPU methods forward exactly the arguments they were called with (`arguments`, not a
    // rest array): Dawn tells a missing argument from an undefined one, and the hot path allocates nothing.
    files: ['src/instrument/**'],
    rules: { 'prefer-rest-params': 'off' },
  },
  {
    // Playwright fixtures take their dependencies as a destructured first argument, `{}` when there are none.
    files: ['test/browser/**', 'src/playwright/**', 'examples/playwright/**'],
    rules: { 'no-empty-pattern': 'off' },
  },
  {
    // Plain scripts and classic-script bundles in the examples.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);

// eslint.config: the lint rules for src, test and bench; type-aware, so it reads tsconfig.json.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'coverage/', '.bench-tmp/'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // This file is not in tsconfig.json; it is linted with the default project.
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // Functions that implement a fixed signature (listener interfaces, test.each rows) mark the
      // parameters they do not read with a leading underscore.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // noUncheckedIndexedAccess types every indexed read as possibly undefined; `!` is how the
      // code says "in bounds by construction" (STYLE.md §9).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Ports, byte counts and durations go into messages as numbers.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `return send(res, ...)` is how a handler answers and stops, in async handlers too (the
      // rule's void-function option does not cover Promise<void>); `() => done()` is a callback.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // `async` without `await` is how a function meets a Promise-returning contract (a CLI
      // command, prom-client's get(), an onTestFinished hook); floating promises are caught below.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      // Node hands the 'upgrade' and 'clientError' sockets over typed as Duplex; they are net.Socket
      // (or tls.TLSSocket) by construction, and the code says so with a cast.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
);

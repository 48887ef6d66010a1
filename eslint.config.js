// Lint rules: recommended JS and TypeScript checks, plus the one architectural rule that matters
// most: src/ is pure and never imports the sidecar, the controller or I/O frameworks.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'coverage/', 'scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/sidecar/**', '**/controller/**'],
              message: 'src/ is pure: it imports nothing from sidecar/ or controller/.',
            },
            {
              group: ['fastify', '@fastify/*', 'ioredis', '@kubernetes/*', 'undici'],
              message: 'src/ is pure: no I/O frameworks.',
            },
          ],
        },
      ],
    },
  },
  { files: ['test/**', 'benchmarks/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  // The dashboard runs in the browser: browser globals, not Node's.
  { files: ['ui/**'], languageOptions: { globals: { ...globals.browser } } },
)

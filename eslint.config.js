// ESLint: typescript-eslint and eslint-plugin-svelte, plus the layer rules CONTRIBUTING.md states.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** src/core subfolders from the bottom layer up: each may import only from those before it. */
const CORE_LAYERS = [
  ['errors.ts', 'io'],
  ['rng', 'tokenizer', 'safetensors', 'onnx'],
  ['prompt', 'schedulers', 'graphs', 'preprocess'],
  ['kdiffusion'],
  ['png', 'checkpoint', 'runtime'],
  ['lora'],
  ['models'],
  ['store', 'pipeline'],
];

const coreZones = CORE_LAYERS.flatMap((layer, i) =>
  layer.map((name) => ({
    target: `./src/core/${name}`,
    from: CORE_LAYERS.slice(i)
      .flat()
      .filter((other) => other !== name)
      .map((other) => `./src/core/${other}`),
    message: `src/core/${name} is below these in the core's layers (CONTRIBUTING.md): move the shared piece down instead.`,
  })),
);

const PAGE = [
  './src/components',
  './src/state',
  './src/lib',
  './src/App.svelte',
  './src/main.ts',
  './src/worker-client.ts',
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'scratch/', 'out/', 'public/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  prettier,
  ...svelte.configs['flat/prettier'],
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/ignore': ['node_modules'],
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js', '.svelte'] })],
    },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './src/core',
              from: ['./src/cli', './src/platform', './workers', ...PAGE],
              message:
                'src/core is the bottom layer: it imports nothing from the platform, the worker, the CLI or the page.',
            },
            ...coreZones,
            {
              target: './src/platform',
              from: ['./src/cli', './workers', ...PAGE],
              message: 'src/platform serves the worker and the CLI: it must not import them or the page.',
            },
            {
              target: './workers',
              from: ['./src/cli', ...PAGE],
              message: 'the worker must not import the CLI or the page.',
            },
            {
              target: './src/cli',
              from: ['./workers', ...PAGE],
              message: 'the CLI must not import the worker or the page.',
            },
            {
              target: PAGE,
              from: ['./src/cli', './src/platform'],
              message: 'the page reaches the core only through the worker (workers/api.ts types).',
            },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['src/components/**', 'src/state/**', 'src/lib/**', 'src/*.ts', 'src/*.svelte'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '/core/(?!errors\\.ts$|png/|io/)',
              allowTypeImports: true,
              message:
                'The page imports only types from src/core, besides core/errors.ts, core/png/ (infotext) and core/io/ (pure helpers): the worker runs the core.',
            },
            {
              regex: '/workers/(?!api\\.ts$|error-transfer\\.ts$)',
              allowTypeImports: true,
              message:
                'The page talks to the worker through workers/api.ts (and worker-client.ts registers error-transfer.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
);

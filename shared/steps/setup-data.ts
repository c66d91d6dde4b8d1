import { input } from '../config/index.ts';
import { ConfigurationError } from '../util/index.ts';
import { defineStep } from './spec.ts';

export const setupDataStep = defineStep({
  name: 'setup-data',
  description: 'Fetch, verify, version (content digest), validate, split and cache a data set; record its statistics.',
  configSection: 'data',
  example: { source: 'data/', split: '80/10/10', 'output-dir': '.modelship/data' },
  inputs: {
    source: input.list({
      description:
        'The data: a folder, a file, an archive (.zip, .tar.gz) or an https:// URL; or several, one a line (e.g. the original data and an exported feedback set), prepared as one data set with the same hash-stable split. Read from modelship.yml (data.source) when not given.',
    }),
    'extra-source': input.list({
      description:
        'More sources, one a line, prepared together with source as one data set (e.g. an exported feedback set): for a workflow that keeps source in modelship.yml.',
    }),
    format: input.choice(['auto', 'image-folder', 'idx', 'csv'], {
      description: 'How to read the source: auto, image-folder (<class>/<file>.png|jpg), idx (MNIST-style IDX files) or csv.',
      fallback: 'auto',
    }),
    'label-column': input.optional({
      description:
        'For csv: the column that holds the label. Default: the first column named label, target, class or y (the log says which); a CSV with none of them needs this input.',
    }),
    split: input.string({
      description: 'Train/validation/test percentages, e.g. 80/10/10. Given train/ and test/ folders are respected.',
      fallback: '80/10/10',
    }),
    'split-seed': input.int({
      description: 'Seed for the content-hash split; the same data and seed always give the same split.',
      min: 0,
      fallback: '0',
    }),
    'image-size': input.optional({ description: 'Resize images to WIDTHxHEIGHT (e.g. 28x28); required when images differ in size.' }),
    checksum: input.optional({
      description: "The sha256 (hex, or sha256:<hex>) the downloaded file or archive must have (the first source's).",
    }),
    cache: input.bool({
      description: 'Restore and save the prepared data with the Actions cache, keyed by the data set digest.',
      fallback: 'true',
    }),
    'output-dir': input.string({ description: 'Where to write the prepared data set.', fallback: '.modelship/data' }),
    'max-download-size': input.size({
      description: 'Largest download, e.g. 10GiB; a larger one is stopped there and removed.',
      fallback: '10GiB',
      min: '1KiB',
    }),
    'max-expanded-size': input.size({
      description: 'Largest total size an archive may expand to, e.g. 10GiB; checked as it expands, before anything passes it.',
      fallback: '10GiB',
      min: '1KiB',
    }),
    'max-entries': input.int({
      description: 'Most entries (files and folders) an archive may have.',
      min: 1,
      fallback: '100000',
    }),
    'max-expansion-ratio': input.number({
      description: 'Largest expansion of an archive: expanded size over archive size (counted above 64 MiB expanded).',
      min: 1,
      fallback: '100',
    }),
    'memory-budget': input.size({
      description:
        'Largest prepared data set (examples × height × width × channels bytes, and labels) to hold in memory; estimated from headers and refused above it before anything is decoded.',
      fallback: '2GiB',
      min: '1MiB',
    }),
    config: input.optional({ description: 'Path to modelship.yml (default: modelship.yml in the working directory, when present).' }),
  },
  outputs: {
    'dataset-dir': 'The prepared data set folder (manifest.json and per-split tensors).',
    manifest: 'Path to manifest.json.',
    digest: 'sha256:<hex> of the data set content, independent of file order and location.',
    'manifest-digest':
      'sha256:<hex> of manifest.json (content, split and every file digest): the prepared folder exactly; verify checks a downloaded copy against it.',
    examples: 'Number of examples.',
    classes: 'Number of classes (0 for regression).',
    'cache-hit': 'true when the prepared data came from the cache or an unchanged earlier run.',
  },
  async run(inputs, ctx) {
    // Loaded on use, so that other steps and `--help` do not load sharp, archives or the cache client.
    const [{ setupData }, { renderDatasetSummary }] = await Promise.all([import('../data/index.ts'), import('../report/index.ts')]);
    if (inputs.source.length === 0 && inputs.extraSource.length > 0) {
      throw new ConfigurationError(
        "input 'extra-source' adds to 'source', which is not set.",
        "Set 'source' (or data.source in modelship.yml) to the data the extra sources join.",
      );
    }
    const result = await setupData(
      {
        source: [...inputs.source, ...inputs.extraSource],
        format: inputs.format,
        labelColumn: inputs.labelColumn,
        split: inputs.split,
        splitSeed: inputs.splitSeed,
        imageSize: inputs.imageSize,
        checksum: inputs.checksum,
        cache: inputs.cache,
        outputDir: inputs.outputDir,
        cwd: ctx.cwd,
        limits: {
          maxDownloadSize: inputs.maxDownloadSize,
          maxExpandedSize: inputs.maxExpandedSize,
          maxEntries: inputs.maxEntries,
          maxExpansionRatio: inputs.maxExpansionRatio,
          memoryBudget: inputs.memoryBudget,
        },
      },
      { log: ctx.log, now: ctx.now, cache: inputs.cache ? ctx.dataCache : undefined },
    );
    const m = result.manifest;
    const examples = m.splits.train.count + m.splits.validation.count + m.splits.test.count;
    return {
      outputs: {
        'dataset-dir': result.datasetDir,
        manifest: result.manifestPath,
        digest: m.digest,
        'manifest-digest': m.manifestDigest,
        examples,
        classes: m.classes.length,
        'cache-hit': result.cacheHit,
      },
      summary: renderDatasetSummary(m, { origin: result.origin }),
    };
  },
});

import { input } from '../config/index.ts';
import { defineStep } from './spec.ts';

export const registerStep = defineStep({
  name: 'register',
  description:
    'Store a model version with its metadata and lineage in a registry (a local OCI layout folder or any OCI registry); move aliases.',
  configSection: 'registry',
  permissions: { 'packages: write': 'push the version to GHCR and move its aliases (registry: oci://ghcr.io/…)' },
  example: {
    model: '${{ steps.train.outputs.model-dir }}',
    report: '${{ steps.gate.outputs.report }}',
    dataset: '${{ steps.data.outputs.manifest }}',
    alias: 'staging',
  },
  configRename: { url: 'registry' },
  inputs: {
    model: input.string({ description: 'The model folder to register (the model-dir output of train).', required: true }),
    name: input.name({
      description: 'The model name (registry repository), e.g. fashion. Default: modelship.yml name, else the model metadata.',
    }),
    registry: input.string({
      description: 'A local folder (OCI image layout) or oci://host[:port]/path, e.g. oci://ghcr.io/acme/models.',
      fallback: '.modelship/registry',
    }),
    alias: input.list({
      description: 'Aliases to point at this version (staging, production), one a line or comma-separated.',
      commas: true,
    }),
    report: input.optional({ description: "evaluate-gate's report.json, stored with the version." }),
    dataset: input.optional({ description: "setup-data's manifest.json (or dataset-dir), for lineage." }),
    username: input.optional({ description: 'Registry user name (for ghcr.io: the workflow actor).', default: '${{ github.actor }}' }),
    password: input.secret({
      description: 'Registry password or token (for ghcr.io the workflow token with packages: write).',
      default: '${{ github.token }}',
      env: 'MODELSHIP_REGISTRY_PASSWORD',
    }),
    config: input.optional({ description: 'Path to modelship.yml (default: modelship.yml in the working directory, when present).' }),
  },
  outputs: {
    version: 'The version number (an increasing integer per model name).',
    digest: 'sha256:<hex> of the version manifest.',
    ref: "The version as a reference deploy-rollout's ref takes as is: oci://ghcr.io/acme/models/fashion:3@sha256:… (fashion:3@sha256:… in a local registry folder).",
  },
  run: async (inputs, ctx) => {
    // Loaded on use, like every step's domain code: `--help` and other steps stay light.
    const [{ formatReference, isOciLocation, registerModel }, { registerSummary }] = await Promise.all([
      import('../registry/index.ts'),
      import('../report/index.ts'),
    ]);
    const result = await registerModel(
      {
        model: inputs.model,
        ...(inputs.name ? { name: inputs.name } : {}),
        registry: inputs.registry,
        aliases: inputs.alias,
        ...(inputs.report ? { report: inputs.report } : {}),
        ...(inputs.dataset ? { dataset: inputs.dataset } : {}),
        ...(inputs.username ? { username: inputs.username } : {}),
        ...(inputs.password ? { password: inputs.password } : {}),
      },
      { log: ctx.log, cwd: ctx.cwd, now: ctx.now, provenance: await ctx.github.provenance() },
    );
    const v = result.version;
    // In the reference grammar (the registry behind oci:// or oci+http://), so the next step parses it unchanged.
    const oci = isOciLocation(inputs.registry) ? inputs.registry.trim().replace(/\/+$/, '') : undefined;
    const ref = formatReference({ ...(oci ? { registry: oci } : {}), name: v.name, version: v.version, digest: v.digest });
    return {
      outputs: { version: v.version, digest: v.digest, ref },
      summary: registerSummary(result),
    };
  },
});

// The Google Cloud Storage datastore of swamp, as a sandboxed WebAssembly component.
//
// Drop this folder's `datastores/` into a repository's `extensions/datastores/` (or add the
// built extension with `swamp extension source add`): the literal type below replaces the
// TypeScript `@swamp/gcs-datastore` with no change to `.swamp.yaml`, on the same bucket and
// cache formats.

import { configSchema } from "./_lib/config_schema.ts";
import { ComponentProvider } from "./_lib/provider.ts";

export const datastore = {
  type: "@swamp/gcs-datastore",
  name: "Google Cloud Storage (WebAssembly component)",
  description:
    "Syncs the repository cache with a GCS bucket from a sandboxed WASI 0.2 component: one cache directory, HTTP only to GCS and Google's OAuth endpoints, no other environment.",
  configSchema,
  createProvider(config: Record<string, unknown>): ComponentProvider {
    configSchema.parse(config);
    return new ComponentProvider(config);
  },
};

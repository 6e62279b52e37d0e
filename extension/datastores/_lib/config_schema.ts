// The datastore config as swamp validates it before creating a provider. The rules are the
// component's own (src/config.rs); fixtures/config_cases.json is the one table both are
// tested against. Unknown keys are dropped, as in the TypeScript extension's schema.

// swamp shares its own zod with extensions under exactly this specifier.
// deno-lint-ignore no-import-prefix
import { z } from "npm:zod@4";

const BUCKET_RULE =
  "Bucket names must be 3-63 characters, lowercase, and contain only letters, numbers, hyphens, underscores, and dots";

/** `http(s)://host[:port][/path]`, the rule the component applies to `apiEndpoint`. */
export function isEndpoint(url: string): boolean {
  const trimmed = url.replace(/\/+$/, "");
  const rest = trimmed.startsWith("http://")
    ? trimmed.slice(7)
    : trimmed.startsWith("https://")
    ? trimmed.slice(8)
    : undefined;
  if (rest === undefined || /\s/.test(trimmed)) return false;
  const authority = rest.split("/")[0];
  if (!authority || !/^[A-Za-z0-9.\-:[\]_]+$/.test(authority)) return false;
  const colon = authority.lastIndexOf(":");
  if (colon >= 0 && !authority.endsWith("]")) {
    const port = authority.slice(colon + 1);
    return /^\+?\d+$/.test(port) && Number(port) <= 65535;
  }
  return true;
}

const int = (min: number, max: number) =>
  z.number().int().min(min).max(max).nullish();

export const configSchema = z.object({
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/, BUCKET_RULE)
    .refine(
      (b) => !b.startsWith("goog"),
      "Bucket names cannot start with 'goog'",
    )
    .refine(
      (b) => !b.includes("google"),
      "Bucket names cannot contain 'google'",
    ),
  prefix: z.string().nullish(),
  projectId: z.string().nullish(),
  apiEndpoint: z
    .string()
    .refine(
      isEndpoint,
      "must be a URL like http://127.0.0.1:4443 or https://storage.googleapis.com",
    )
    .nullish(),
  credentials: z.enum(["auto", "adc", "none"]).nullish(),
  pullConcurrency: int(1, 1000),
  pushConcurrency: int(1, 1000),
  requestTimeoutMs: int(1000, 600_000),
  retryMaxAttempts: int(1, 20),
  retryInitialDelayMs: int(1, 60_000),
  retryMaxDelayMs: int(1, 300_000),
  retryMaxElapsedMs: int(0, 3_600_000),
  resumableThresholdBytes: int(1, 2 ** 40),
  resumableChunkBytes: z
    .number()
    .int()
    .min(262_144)
    .max(2 ** 32)
    .refine(
      (n) => n % 262_144 === 0,
      "must be a multiple of 262144 (256 KiB), as GCS requires",
    )
    .nullish(),
});

export type GcsDatastoreConfig = z.infer<typeof configSchema>;

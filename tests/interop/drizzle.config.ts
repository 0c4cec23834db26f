// drizzle-kit configuration for sqlkeeper's interop fixtures.
//
// By default it points at ./steps/3.ts (the final schema) and writes to the
// committed fixture folder. generate-fixture.sh overrides both through
// DRIZZLE_SCHEMA / DRIZZLE_OUT to replay the schema history in steps/1.ts,
// steps/2.ts, steps/3.ts into a scratch folder.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: process.env.DRIZZLE_SCHEMA ?? './steps/3.ts',
  out: process.env.DRIZZLE_OUT ?? '../fixtures/drizzle-basic',
  // drizzle-kit's defaults, spelled out because the fixture depends on them:
  // "--> statement-breakpoint" separators and 0000_-style index prefixes.
  breakpoints: true,
  migrations: { prefix: 'index' },
});

/**
 * GraphQL Code Generator over the committed schema and the example operations, as a frontend team
 * would set it up: one TypeScript file with a result and variables type per operation (and the
 * enums and inputs they use, enums as string unions). tests/test_apollo_client.py runs it with
 * CODEGEN_OUTPUT in a temporary folder and type-checks the output with `tsc --noEmit`;
 * `npx graphql-codegen --config codegen.ts` here writes generated/operations.ts.
 */
import type { CodegenConfig } from "@graphql-codegen/cli";

const output = process.env.CODEGEN_OUTPUT ?? "generated/operations.ts";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: "../../examples/*.graphql",
  generates: {
    [output]: {
      // Since typescript-operations 6 the plugin writes the enums and inputs its operations use itself;
      // adding the `typescript` plugin would declare them twice.
      plugins: ["typescript-operations"],
      config: {
        // The gateway's custom scalars travel as JSON strings: ISO dates and fixed-point decimals.
        strictScalars: true,
        scalars: { Date: "string", DateTime: "string", Decimal: "string" },
        avoidOptionals: true,
      },
    },
  },
};

export default config;

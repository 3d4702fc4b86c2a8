// What an app does with the generated types: tsc must accept this against codegen's output, so the
// types say what the gateway returns (non-null where the schema promises it, enums as string unions).
import type { CatalogueQuery, CatalogueQueryVariables, ProductFamily } from "./operations";

const variables: CatalogueQueryVariables = { market: "DE" };

export function cheapestSelfServicePrice(data: CatalogueQuery, family: ProductFamily): string | undefined {
  const prices = data.products
    .filter((product) => product.family === family)
    .flatMap((product) => product.prices)
    .filter((price) => price.channel === "SELF_SERVICE")
    .map((price) => price.unitPrice.amount);
  return prices.sort((a, b) => Number(a) - Number(b))[0];
}

export const market: string | null | undefined = variables.market;

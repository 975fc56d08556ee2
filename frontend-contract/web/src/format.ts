// Dates and amounts as the pages show them, in the browser's locale.
export const formatDate = (value: unknown) =>
  typeof value === "string"
    ? new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })
    : "";

// LiteLLM counts spend and budgets in US dollars.
const DOLLARS = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD" });

export const formatMoney = (value: number) => DOLLARS.format(value);

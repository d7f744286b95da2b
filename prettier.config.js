// Prettier owns the layout of tether's TypeScript and JavaScript (`npm run format` rewrites,
// `npm run lint` checks). Chosen to match the code as it was written, to keep the first
// reformat small: long lines (180 columns fits the tables of constants and the one-line
// records), double quotes, semicolons, trailing commas. Documents and data are not formatted
// (.prettierignore).
/** @type {import("prettier").Config} */
export default {
  printWidth: 180,
  semi: true,
  singleQuote: false,
  trailingComma: "all",
  overrides: [{ files: "bin/tether", options: { parser: "babel" } }],
};

// ESLint (flat config): TypeScript's recommended rules and React's rules of hooks over the
// bundle, the host pages and the tests. `npm run lint` (part of `make test-ui`); warnings fail.
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", ".build/", "node_modules/", "test-output/"] },
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.{ts,tsx}", "host/**/*.{ts,tsx}", "test/**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.tsx"],
    rules: {
      // Icons are decoration: screen readers skip them (the text beside says it, or the
      // element's label does). Use <Icon> from components/common, or add aria-hidden.
      "no-restricted-syntax": [
        "error",
        {
          selector: "JSXOpeningElement[name.name='i']:not(:has(JSXAttribute[name.name='aria-hidden']))",
          message: "An icon <i> needs aria-hidden=\"true\" (or use <Icon>).",
        },
      ],
    },
  },
);

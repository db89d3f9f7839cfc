// ESLint's flat config: its recommended rules, with the globals of where each file runs.
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  js.configs.recommended,
  // A disable comment that no longer silences anything fails the lint, rather than lingering.
  { linterOptions: { reportUnusedDisableDirectives: "error" } },
  {
    // The review page's script: inlined by article.html.j2 into one classic <script>.
    files: ["pipeline/templates/*.js"],
    languageOptions: { sourceType: "script", globals: globals.browser },
  },
  {
    // review_core.js is also node's module, for tests/js.
    files: ["pipeline/templates/review_core.js"],
    languageOptions: { globals: { module: "readonly" } },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { sourceType: "commonjs", globals: globals.node },
  },
];

// The JSX factory esbuild emits (build.mjs: `jsxFactory: "__h"`, this file injected): the host's
// React.createElement under a name the minifier shortens, ~14 bytes less per element than
// `<React>.createElement`. The name is one no source file uses (a local `h` would shadow a short
// one). tsc type-checks JSX as `React.createElement` (tsconfig.json); both are the same function.
import * as React from "react";

export const __h = React.createElement;
export const __Fragment = React.Fragment;

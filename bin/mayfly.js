#!/usr/bin/env node
// `npx mayfly` from the checkout: the bundled CLI (built by `npm run build`, run by `npm ci`'s prepare step).
require('../dist/proxy.js');

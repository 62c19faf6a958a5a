#!/usr/bin/env node
'use strict';
// The MoeCode language server: moecode-daemon --stdio
const { main, exitAfterFlush } = require('../dist/daemon.js');
const code = main(process.argv.slice(2));
if (code !== undefined) exitAfterFlush(code);

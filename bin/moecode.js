#!/usr/bin/env node
'use strict';
// The MoeCode command line; runCli exits only after stdout has been flushed (a pipe may lag behind).
require('../dist/cli.js').runCli(process.argv.slice(2));

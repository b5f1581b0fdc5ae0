/** The `ingest` module: see README.md; its issue fills it in. */
package io.usagemeter.ingest;

/** The HTTP ingest service ({@link io.usagemeter.ingest.IngestService}); see docs/api.md. */
package io.usagemeter.ingest;

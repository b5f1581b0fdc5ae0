/** Load generator and benchmarks ({@code bench/run}, {@link io.usagemeter.bench.BenchSuite}); see docs/benchmarks.md. */
package io.usagemeter.bench;

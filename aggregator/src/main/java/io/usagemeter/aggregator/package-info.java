/**
 * The aggregator: dedupe, per-user monthly usage summaries and usage resets on Kafka Streams.
 * {@link io.usagemeter.aggregator.AggregatorTopology#build} wires the topology,
 * {@link io.usagemeter.aggregator.AggregatorService} runs it, {@code internal} holds the processors
 * and the store-backed {@code MonthlyUsageLedger} that takes every decision.
 */
package io.usagemeter.aggregator;

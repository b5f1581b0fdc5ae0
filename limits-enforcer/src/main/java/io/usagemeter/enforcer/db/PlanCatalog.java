package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.SUBSCRIPTION_LIMITS;

import io.usagemeter.enforcer.EnforcerTopics;
import io.usagemeter.enforcer.Plan;
import io.usagemeter.schema.events.Bounds;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes {@code subscription_limits} to the compacted {@code meter.plans} topic, which the
 * topology reads as a global store: the database stays the source of the plans, Kafka carries them.
 */
public final class PlanCatalog {

    private static final Logger LOG = LoggerFactory.getLogger(PlanCatalog.class);
    private static final Duration ACK_TIMEOUT = Duration.ofSeconds(30);

    private PlanCatalog() {
    }

    /**
     * Every plan. One above {@link Bounds#MAX_PLAN_UNITS} is published as it is (the limit rules saturate, so it
     * cannot break a limit) but logged: the sums are sized for plans up to that bound.
     */
    public static List<Plan> read(DSLContext dsl) {
        List<Plan> plans = dsl.select(SUBSCRIPTION_LIMITS.PLAN, SUBSCRIPTION_LIMITS.MONTHLY_UNITS)
                .from(SUBSCRIPTION_LIMITS)
                .orderBy(SUBSCRIPTION_LIMITS.PLAN)
                .fetch(r -> new Plan(r.value1(), r.value2()));
        plans.stream().filter(p -> p.monthlyUnits() > Bounds.MAX_PLAN_UNITS).forEach(p -> LOG.warn(
                "plan '{}' has {} monthly units, above the bound of {}: its limits saturate at the largest long",
                p.plan(), p.monthlyUnits(), Bounds.MAX_PLAN_UNITS));
        return plans;
    }

    /** Sends every plan and waits until Kafka acknowledged them all; returns what was published. */
    public static List<Plan> publish(DSLContext dsl, Producer<String, Plan> producer) {
        List<Plan> plans = read(dsl);
        List<Future<RecordMetadata>> acks = plans.stream()
                .map(p -> producer.send(new ProducerRecord<>(EnforcerTopics.PLANS.name(), p.plan(), p)))
                .toList();
        producer.flush();
        try {
            for (Future<RecordMetadata> ack : acks) {
                ack.get(ACK_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not publish plans to " + EnforcerTopics.PLANS.name() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while publishing plans", e);
        }
        LOG.info("published {} plans to {}: {}", plans.size(), EnforcerTopics.PLANS.name(), plans);
        return plans;
    }
}

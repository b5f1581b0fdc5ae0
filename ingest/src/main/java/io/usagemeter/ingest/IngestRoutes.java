package io.usagemeter.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import io.javalin.http.Context;
import io.usagemeter.ingest.internal.EventRequests;
import io.usagemeter.ingest.internal.IngestMetrics;
import io.usagemeter.ingest.internal.IngestRejection;
import io.usagemeter.ingest.internal.RecordPublisher;
import io.usagemeter.ingest.internal.ReferralValidation;
import io.usagemeter.ingest.internal.RequestFormat;
import io.usagemeter.ingest.internal.TopicRecord;
import io.usagemeter.ingest.internal.UsageEventRequests;
import io.usagemeter.kit.Access;
import io.usagemeter.kit.Route;
import io.usagemeter.kit.ServiceServer;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.topics.Topics;
import java.time.Clock;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ingest routes: {@code POST /v1/events} and {@code POST /v1/referrals}. The kit authenticates
 * the API key and its scope first; parsing and validation stay with the request classes; a route
 * answers 202 only once Kafka acknowledged every record of the request.
 */
final class IngestRoutes {

    private static final Logger LOG = LoggerFactory.getLogger(IngestRoutes.class);
    static final String EVENTS = "events";
    static final String REFERRALS = "referrals";

    private final IngestConfig config;
    private final RecordPublisher publisher;
    private final IngestMetrics metrics;
    private final Clock clock;

    IngestRoutes(IngestConfig config, RecordPublisher publisher, IngestMetrics metrics, Clock clock) {
        this.config = config;
        this.publisher = publisher;
        this.metrics = metrics;
        this.clock = clock;
    }

    List<Route> routes() {
        return List.of(
                Route.post("/v1/events", EVENTS, Access.apiKey(ApiKeyScopes.EVENTS_WRITE), (ctx, caller) -> postEvents(ctx)),
                Route.post("/v1/referrals", REFERRALS, Access.apiKey(ApiKeyScopes.REFERRALS_WRITE),
                        (ctx, caller) -> postReferrals(ctx)));
    }

    private void postEvents(Context ctx) throws Exception {
        handle(ctx, EVENTS, EnumSet.allOf(RequestFormat.class), (format, body) -> {
            List<TopicRecord> records = UsageEventRequests.records(body, format, ctx.headerMap(), config.maxBatchEvents(),
                    clock.instant(), config.maxLateness());
            publisher.publish(Topics.USAGE_EVENTS.name(), records);
            return records.size();
        });
    }

    private void postReferrals(Context ctx) throws Exception {
        handle(ctx, REFERRALS, EnumSet.of(RequestFormat.JSON), (format, body) -> {
            List<JsonNode> elements = EventRequests.elements(body, format, config.maxBatchEvents());
            var now = clock.instant();
            List<ReferralEvent> referrals = EventRequests.validateAll(elements,
                    (element, violations) -> ReferralValidation.validate(element, now, config.maxLateness(), violations));
            publisher.publishAll(Topics.REFERRALS, referrals, r -> r.referredId().toString(), ReferralEvent::occurredAt);
            return referrals.size();
        });
    }

    @FunctionalInterface
    private interface Ingestion {
        /** Validates and publishes the body; returns how many events Kafka acknowledged. */
        int ingest(RequestFormat format, byte[] body) throws Exception;
    }

    /** The common frame of both write routes: content type, body limit, then the route's work; refusals are counted. */
    private void handle(Context ctx, String route, Set<RequestFormat> formats, Ingestion ingestion) throws Exception {
        try {
            RequestFormat format = RequestFormat.of(ctx.contentType())
                    .filter(formats::contains)
                    .orElseThrow(() -> new IngestRejection(415, "unsupported_media_type",
                            "unsupported Content-Type '" + ctx.contentType() + "'; use one of "
                                    + formats.stream().map(RequestFormat::mediaType).toList()));
            byte[] body = EventRequests.readBody(ctx.req().getInputStream(), ctx.req().getContentLengthLong(),
                    config.maxBodyBytes());
            int accepted = ingestion.ingest(format, body);
            metrics.accepted(route, accepted);
            ServiceServer.json(ctx, 202, Map.of("accepted", accepted));
        } catch (IngestRejection rejection) {
            metrics.rejected(route, rejection);
            LOG.debug("refused POST /v1/{} with {} ({}): {}", route, rejection.status(), rejection.reason(),
                    rejection.getMessage());
            throw rejection;
        }
    }
}

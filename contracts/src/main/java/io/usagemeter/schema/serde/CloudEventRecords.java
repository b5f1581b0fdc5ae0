package io.usagemeter.schema.serde;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cloudevents.CloudEvent;
import io.cloudevents.kafka.KafkaMessageFactory;
import io.usagemeter.schema.events.UsageCloudEvents;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.events.UsageEventValidation;
import io.usagemeter.schema.events.Violation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * Usage events in records written with the CloudEvents Kafka protocol binding, read by the
 * CloudEvents SDK ({@link KafkaMessageFactory}): binary mode (attributes in {@code ce_*} headers,
 * {@code data} as the value) or structured mode ({@code content-type: application/cloudevents+json},
 * the whole envelope as the value). Mapped as {@link UsageCloudEvents} says and checked by
 * {@link UsageEventValidation#parse} (the time rules are ingest's). Anything else fails with a
 * {@link SerializationException} that says why, which the readers' deserialization handlers put
 * on the dead-letter topic.
 */
final class CloudEventRecords {

    static final String BINARY_PREFIX = "ce_";
    static final String CONTENT_TYPE = "content-type";
    private static final String STRUCTURED_MEDIA_TYPE_PREFIX = "application/cloudevents";

    private CloudEventRecords() {
    }

    /**
     * Whether the record claims to be a CloudEvent: any {@code ce_*} header, or a CloudEvents content
     * type. {@link Headers#toArray()} rather than the iterator: it allocates nothing for a record
     * without headers, every plain usage event.
     */
    static boolean isCloudEvent(Headers headers) {
        for (Header header : headers.toArray()) {
            String key = header.key();
            if (key.startsWith(BINARY_PREFIX) || key.equals(CONTENT_TYPE) && isStructured(header)) {
                return true;
            }
        }
        return false;
    }

    static UsageEvent usageEvent(String topic, Headers headers, byte[] value) {
        boolean structured = isStructured(headers.lastHeader(CONTENT_TYPE));
        String mode = structured ? "structured" : "binary";
        if (!structured) {
            List<String> missing = UsageCloudEvents.missingHeaders(BINARY_PREFIX, name -> hasValue(headers, name));
            if (!missing.isEmpty()) {
                throw failure(topic, "not a valid CloudEvent in binary mode: missing the header"
                        + (missing.size() == 1 ? " " : "s ") + String.join(", ", missing), null);
            }
        }
        CloudEvent event;
        try {
            event = KafkaMessageFactory.createReader(headers, value).toEvent();
        } catch (RuntimeException e) {
            throw failure(topic, "not a valid CloudEvent in " + mode + " mode: " + reason(e), e);
        }
        List<Violation> violations = new ArrayList<>();
        ObjectNode json = UsageCloudEvents.usageEventOf(event, violations);
        if (json != null && violations.isEmpty()) {
            UsageEventValidation.Result result = UsageEventValidation.parse(json);
            if (result instanceof UsageEventValidation.Valid valid) {
                return valid.event();
            }
            violations.addAll(((UsageEventValidation.Invalid) result).violations());
        }
        throw failure(topic, "the CloudEvent '" + event.getId() + "' (" + mode + " mode) is not a valid usage event: "
                + violations, null);
    }

    private static boolean isStructured(Header contentType) {
        return contentType != null && contentType.value() != null
                && new String(contentType.value(), StandardCharsets.UTF_8).regionMatches(true, 0,
                        STRUCTURED_MEDIA_TYPE_PREFIX, 0, STRUCTURED_MEDIA_TYPE_PREFIX.length());
    }

    private static boolean hasValue(Headers headers, String name) {
        Header header = headers.lastHeader(name);
        return header != null && header.value() != null && header.value().length > 0;
    }

    private static SerializationException failure(String topic, String reason, Exception cause) {
        return new SerializationException("could not deserialize UsageEvent from topic " + topic + ": " + reason, cause);
    }

    /** The first message that is not only a wrapper's copy of its cause's (the SDK wraps Jackson's and its own). */
    private static String reason(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t
                && (t.getMessage() == null || t.getMessage().equals(t.getCause().toString()))) {
            t = t.getCause();
        }
        if (t instanceof JsonProcessingException jpe) {
            return jpe.getOriginalMessage();
        }
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }
}

package io.usagemeter.ingest.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cloudevents.CloudEvent;
import io.cloudevents.http.HttpMessageFactory;
import io.usagemeter.kit.ApiError;
import io.usagemeter.schema.events.UsageCloudEvents;
import io.usagemeter.schema.events.Violation;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The usage event inside a CloudEvent 1.0 sent over HTTP, mapped as {@link UsageCloudEvents} says
 * (the envelope's {@code id} is the event id, {@code subject} the user id, {@code time} stands in
 * for a missing {@code occurred_at}).
 *
 * <p>Structured and batched envelopes are parsed with the project's mapper, which reports every
 * violation of every element by field; the CloudEvents SDK would stop at the first. Binary mode
 * (attributes in {@code ce-*} headers, the usage event as the body) is read by the SDK's HTTP
 * binding; a request with {@code ce-*} headers that is not a valid CloudEvent is refused as such,
 * never taken for a plain usage event with missing fields.
 */
public final class CloudEvents {

    /** The prefix of binary-mode attribute headers (HTTP header names are case-insensitive). */
    static final String HEADER_PREFIX = "ce-";
    static final String SPEC_VERSION = UsageCloudEvents.SPEC_VERSION;

    private CloudEvents() {}

    /**
     * The usage event JSON inside a structured {@code envelope}, with the envelope's attributes
     * filled in; {@code null} when there is no usable payload. Violations of the envelope go to
     * {@code violations}.
     */
    public static ObjectNode usageEventOf(JsonNode envelope, List<Violation> violations) {
        if (envelope == null || !envelope.isObject()) {
            violations.add(new Violation(Violation.DOCUMENT, "a CloudEvent must be a JSON object"));
            return null;
        }
        JsonNode specVersion = envelope.get("specversion");
        if (specVersion == null || !SPEC_VERSION.equals(specVersion.asText(null))) {
            violations.add(new Violation("specversion", "must be \"" + SPEC_VERSION + "\""));
        }
        String id = requiredText(envelope, "id", violations);
        requiredText(envelope, "source", violations);
        requiredText(envelope, "type", violations);
        JsonNode contentType = envelope.get("datacontenttype");
        if (contentType != null && !contentType.isTextual()) {
            violations.add(new Violation("datacontenttype", "must be a string"));
        } else if (contentType != null) {
            UsageCloudEvents.checkDataContentType(contentType.textValue(), violations);
        }
        if (envelope.has("data_base64")) {
            violations.add(new Violation("data_base64", "is not supported; put the usage event as JSON in data"));
        }
        JsonNode data = envelope.get("data");
        if (data == null || !data.isObject()) {
            violations.add(UsageCloudEvents.dataNotAnObject());
            return null;
        }
        return UsageCloudEvents.withAttributes((ObjectNode) data, id, optionalText(envelope, "subject", violations),
                optionalText(envelope, "time", violations), violations);
    }

    /** Whether the request carries any {@code ce-*} header, i.e. claims to be a CloudEvent in binary mode. */
    public static boolean isBinary(Map<String, String> headers) {
        for (String name : headers.keySet()) {
            if (isAttributeHeader(name)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The CloudEvent of a binary-mode request, read by the SDK's HTTP binding.
     *
     * @throws IngestRejection 400 {@code invalid_cloudevent} naming every required attribute header
     *     that is missing or empty, or with the SDK's reason when it cannot read the event
     */
    public static CloudEvent binary(Map<String, String> headers, byte[] body) {
        Set<String> present = new HashSet<>();
        headers.forEach((name, value) -> {
            if (isAttributeHeader(name) && value != null && !value.isEmpty()) {
                present.add(name.toLowerCase(Locale.ROOT));
            }
        });
        List<String> missing = UsageCloudEvents.missingHeaders(HEADER_PREFIX, present::contains);
        if (!missing.isEmpty()) {
            List<ApiError.EventViolation> details = new ArrayList<>();
            for (String header : missing) {
                details.add(new ApiError.EventViolation(0, header,
                        "is a required CloudEvents attribute in binary mode (missing or empty)"));
            }
            throw new IngestRejection(400, "invalid_cloudevent", "not a valid CloudEvent: the request has ce-* headers,"
                    + " so it is a CloudEvent in binary mode, which needs " + String.join(", ", requiredHeaders())
                    + "; missing " + String.join(", ", missing), details, 1);
        }
        try {
            return HttpMessageFactory.createReader(headers, body).toEvent();
        } catch (RuntimeException e) {
            throw new IngestRejection(400, "invalid_cloudevent", "not a valid CloudEvent in binary mode: "
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), List.of(), 1);
        }
    }

    private static List<String> requiredHeaders() {
        return UsageCloudEvents.REQUIRED_ATTRIBUTES.stream().map(a -> HEADER_PREFIX + a).toList();
    }

    private static boolean isAttributeHeader(String name) {
        return name.length() > HEADER_PREFIX.length() && name.regionMatches(true, 0, HEADER_PREFIX, 0, HEADER_PREFIX.length());
    }

    private static String requiredText(JsonNode envelope, String attribute, List<Violation> violations) {
        JsonNode value = envelope.get(attribute);
        if (value == null || !value.isTextual() || value.textValue().isEmpty()) {
            violations.add(new Violation(attribute, "is a required CloudEvents attribute (non-empty string)"));
            return null;
        }
        return value.textValue();
    }

    private static String optionalText(JsonNode envelope, String attribute, List<Violation> violations) {
        JsonNode value = envelope.get(attribute);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            violations.add(new Violation(attribute, "must be a string"));
            return null;
        }
        return value.textValue();
    }
}

package io.usagemeter.schema.events;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cloudevents.CloudEvent;
import io.cloudevents.CloudEventData;
import io.cloudevents.SpecVersion;
import io.cloudevents.jackson.JsonCloudEventData;
import io.usagemeter.schema.json.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * How a usage event travels as a CloudEvent 1.0, in every content mode (structured, batched,
 * binary) and binding (HTTP, Kafka): the usage event is the JSON object in {@code data}; the
 * {@code id} attribute is its {@code event_id}, {@code subject} its {@code user_id}, and
 * {@code time} stands in for a missing {@code occurred_at}. {@code data} may repeat those
 * fields but not contradict them. The result is checked like any usage event, by
 * {@link UsageEventValidation}.
 */
public final class UsageCloudEvents {

    public static final String SPEC_VERSION = "1.0";
    /** The type we suggest to producers; any non-empty type is accepted. */
    public static final String TYPE = "io.usagemeter.usage.v1";
    /** The attributes every CloudEvent carries, in the specification's order. */
    public static final List<String> REQUIRED_ATTRIBUTES = List.of("specversion", "id", "source", "type");

    private static final String JSON_MEDIA_TYPE = "application/json";

    private UsageCloudEvents() {
    }

    /**
     * The usage event JSON carried by {@code event} (read by the CloudEvents SDK from any binding),
     * with the attributes filled in; {@code null} when there is no usable payload. Violations of
     * the envelope go to {@code violations}.
     */
    public static ObjectNode usageEventOf(CloudEvent event, List<Violation> violations) {
        if (event.getSpecVersion() != SpecVersion.V1) {
            violations.add(new Violation("specversion", "must be \"" + SPEC_VERSION + "\", was \""
                    + event.getSpecVersion().toString() + "\""));
        }
        checkDataContentType(event.getDataContentType(), violations);
        JsonNode data = json(event.getData(), violations);
        if (data == null) {
            return null;
        }
        if (!data.isObject()) {
            violations.add(dataNotAnObject());
            return null;
        }
        String time = event.getTime() == null ? null : event.getTime().toInstant().toString();
        return withAttributes((ObjectNode) data, event.getId(), event.getSubject(), time, violations);
    }

    /**
     * A copy of {@code data} with the attributes filled in: {@code id} as {@code event_id} and
     * {@code subject} as {@code user_id} unless {@code data} has them already (then they must be
     * equal), {@code time} as {@code occurred_at} unless {@code data} has one. {@code null}
     * attributes are absent.
     */
    public static ObjectNode withAttributes(ObjectNode data, String id, String subject, String time,
                                            List<Violation> violations) {
        ObjectNode event = data.deepCopy();
        fillFromAttribute(event, "event_id", id, "id", violations);
        fillFromAttribute(event, "user_id", subject, "subject", violations);
        if (time != null && !event.hasNonNull("occurred_at")) {
            event.put("occurred_at", time);
        }
        return event;
    }

    /** A violation unless {@code contentType} is absent or JSON: the usage event is JSON. */
    public static void checkDataContentType(String contentType, List<Violation> violations) {
        if (contentType != null && !isJson(contentType)) {
            violations.add(new Violation("datacontenttype", "must be " + JSON_MEDIA_TYPE + " when present, was '"
                    + abbreviate(contentType) + "'"));
        }
    }

    public static Violation dataNotAnObject() {
        return new Violation("data", "must be the usage event as a JSON object");
    }

    /**
     * The required attributes a binary-mode message lacks, each named as its header
     * ({@code prefix} + attribute, e.g. {@code ce-id} over HTTP, {@code ce_id} on Kafka).
     *
     * @param present whether the header of that name is present with a non-empty value
     */
    public static List<String> missingHeaders(String prefix, Predicate<String> present) {
        List<String> missing = new ArrayList<>(0);
        for (String attribute : REQUIRED_ATTRIBUTES) {
            String header = prefix + attribute;
            if (!present.test(header)) {
                missing.add(header);
            }
        }
        return missing;
    }

    private static boolean isJson(String contentType) {
        int semicolon = contentType.indexOf(';');
        String media = semicolon < 0 ? contentType : contentType.substring(0, semicolon);
        return media.strip().toLowerCase(Locale.ROOT).equals(JSON_MEDIA_TYPE);
    }

    /** The data as JSON: already a tree from a structured event, bytes from a binary one. */
    private static JsonNode json(CloudEventData data, List<Violation> violations) {
        if (data == null) {
            violations.add(dataNotAnObject());
            return null;
        }
        if (data instanceof JsonCloudEventData tree) {
            return tree.getNode();
        }
        try {
            JsonNode node = Json.tree(data.toBytes());
            if (node == null || node.isMissingNode()) {
                violations.add(dataNotAnObject());
                return null;
            }
            return node;
        } catch (JsonProcessingException e) {
            violations.add(new Violation("data", "is not valid JSON: " + e.getOriginalMessage()));
        } catch (IOException e) {
            violations.add(new Violation("data", "is not readable: " + e.getMessage()));
        }
        return null;
    }

    private static void fillFromAttribute(ObjectNode event, String field, String attributeValue, String attribute,
                                          List<Violation> violations) {
        if (attributeValue == null) {
            return;
        }
        JsonNode inData = event.get(field);
        if (inData == null || inData.isNull()) {
            event.put(field, attributeValue);
        } else if (!attributeValue.equals(inData.asText())) {
            violations.add(new Violation(field, "differs from the CloudEvents " + attribute + " attribute"));
        }
    }

    private static String abbreviate(String value) {
        return value.length() <= 64 ? value : value.substring(0, 64) + "...";
    }
}

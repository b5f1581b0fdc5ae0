package io.usagemeter.ingest.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.usagemeter.schema.events.Violation;
import java.util.List;

/**
 * Unwraps a CloudEvents 1.0 JSON envelope around a usage event. The envelope's {@code id} is the
 * event id and its {@code subject} the user id; {@code time} stands in for {@code occurred_at}
 * when the payload has none. The payload may repeat those fields, but not contradict them.
 *
 * <p>Parsed with the project's mapper rather than the CloudEvents SDK: the SDK would hand back
 * {@code data} as bytes, to be parsed again, and would not report violations per field.
 */
public final class CloudEvents {

    static final String SPEC_VERSION = "1.0";

    private CloudEvents() {}

    /**
     * The usage event JSON inside {@code envelope}, with the envelope's attributes filled in;
     * {@code null} when there is no usable payload. Violations of the envelope go to {@code violations}.
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
        if (contentType != null && !(contentType.isTextual() && contentType.textValue().startsWith("application/json"))) {
            violations.add(new Violation("datacontenttype", "must be application/json when present"));
        }
        if (envelope.has("data_base64")) {
            violations.add(new Violation("data_base64", "is not supported; put the usage event as JSON in data"));
        }
        JsonNode data = envelope.get("data");
        if (data == null || !data.isObject()) {
            violations.add(new Violation("data", "must be the usage event as a JSON object"));
            return null;
        }
        ObjectNode event = ((ObjectNode) data).deepCopy();
        fillFromAttribute(event, "event_id", id, "id", violations);
        fillFromAttribute(event, "user_id", optionalText(envelope, "subject", violations), "subject", violations);
        String time = optionalText(envelope, "time", violations);
        if (time != null && !event.has("occurred_at")) {
            event.put("occurred_at", time);
        }
        return event;
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

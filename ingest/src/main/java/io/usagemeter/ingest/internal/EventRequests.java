package io.usagemeter.ingest.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.kit.ApiError;
import io.usagemeter.schema.events.Violation;
import io.usagemeter.schema.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiFunction;

/**
 * Turns a request body into validated payloads, all-or-nothing: either every element is valid,
 * or an {@link IngestRejection} lists every violation of every element by its index.
 */
public final class EventRequests {

    /** Validates one element; returns the payload, or {@code null} after adding to {@code violations}. */
    @FunctionalInterface
    public interface ElementValidator<T> {
        T validate(JsonNode element, List<Violation> violations);
    }

    private EventRequests() {}

    /**
     * Reads at most {@code maxBytes} from {@code body}.
     *
     * @param declaredLength the request's Content-Length, or -1 when it has none (chunked)
     * @throws IngestRejection 413 when the body is larger
     */
    public static byte[] readBody(InputStream body, long declaredLength, int maxBytes) throws IOException {
        if (declaredLength > maxBytes) {
            throw bodyTooLarge(maxBytes);
        }
        if (declaredLength >= 0) {
            // Read straight into an array of the declared size, not through readNBytes' chunks and final copy.
            byte[] bytes = new byte[(int) declaredLength];
            int read = body.readNBytes(bytes, 0, bytes.length);
            if (read < bytes.length) {
                return Arrays.copyOf(bytes, read);
            }
            if (body.read() >= 0) {
                throw bodyTooLarge(maxBytes);
            }
            return bytes;
        }
        byte[] bytes = body.readNBytes(maxBytes + 1);
        if (bytes.length > maxBytes) {
            throw bodyTooLarge(maxBytes);
        }
        return bytes;
    }

    /**
     * The elements of the body: one for an object (or a structured CloudEvent), each entry of an
     * array (or a CloudEvents batch).
     *
     * @throws IngestRejection 400 for malformed JSON or the wrong top-level shape, 413 for too many elements
     */
    public static List<JsonNode> elements(byte[] body, RequestFormat format, int maxBatch) {
        JsonNode root;
        try {
            root = Json.tree(body);
        } catch (JsonProcessingException e) {
            throw new IngestRejection(400, "malformed_json", "malformed JSON: " + e.getOriginalMessage()
                    + locationOf(e));
        } catch (IOException e) {
            throw new IngestRejection(400, "malformed_json", "unreadable body: " + e.getMessage());
        }
        if (root == null || root.isMissingNode()) {
            throw new IngestRejection(400, "malformed_json", "empty body: expected JSON");
        }
        List<JsonNode> elements = new ArrayList<>();
        switch (format) {
            case JSON -> {
                if (root.isArray()) {
                    root.forEach(elements::add);
                } else if (root.isObject()) {
                    elements.add(root);
                } else {
                    throw new IngestRejection(400, "malformed_json", "expected a JSON object or an array of objects");
                }
            }
            case CLOUDEVENT -> {
                if (!root.isObject()) {
                    throw new IngestRejection(400, "malformed_json",
                            "a structured CloudEvent must be a JSON object; send arrays as " + RequestFormat.CLOUDEVENTS_BATCH.mediaType());
                }
                elements.add(root);
            }
            case CLOUDEVENTS_BATCH -> {
                if (!root.isArray()) {
                    throw new IngestRejection(400, "malformed_json", "a CloudEvents batch must be a JSON array");
                }
                root.forEach(elements::add);
            }
        }
        if (elements.isEmpty()) {
            throw new IngestRejection(400, "empty_batch", "the batch is empty");
        }
        if (elements.size() > maxBatch) {
            throw new IngestRejection(413, "batch_too_large",
                    "too many events in one request: " + elements.size() + ", at most " + maxBatch, List.of(),
                    elements.size());
        }
        return elements;
    }

    /** Every element validated; a single bad one rejects the whole request with every violation listed. */
    public static <T> List<T> validateAll(List<JsonNode> elements, ElementValidator<T> validator) {
        return validateEach(elements, validator::validate);
    }

    /**
     * As {@link #validateAll}, for elements that are not JSON trees (e.g. a CloudEvent read from headers):
     * {@code validator} returns the payload, or {@code null} after adding to the violations.
     */
    public static <E, T> List<T> validateEach(List<E> elements, BiFunction<E, List<Violation>, T> validator) {
        List<T> valid = new ArrayList<>(elements.size());
        List<ApiError.EventViolation> details = new ArrayList<>();
        List<Violation> violations = new ArrayList<>();
        int badEvents = 0;
        for (int i = 0; i < elements.size(); i++) {
            violations.clear();
            T payload = validator.apply(elements.get(i), violations);
            if (payload != null && violations.isEmpty()) {
                valid.add(payload);
            } else {
                badEvents++;
                for (Violation v : violations) {
                    details.add(new ApiError.EventViolation(i, v.field(), v.message()));
                }
            }
        }
        if (badEvents > 0) {
            throw new IngestRejection(400, "validation",
                    badEvents + " of " + elements.size() + (elements.size() == 1 ? " event is" : " events are")
                            + " invalid; nothing was accepted",
                    details, elements.size());
        }
        return valid;
    }

    private static IngestRejection bodyTooLarge(int maxBytes) {
        return new IngestRejection(413, "body_too_large", "request body larger than " + maxBytes + " bytes");
    }

    private static String locationOf(JsonProcessingException e) {
        var location = e.getLocation();
        return location == null ? "" : " (line " + location.getLineNr() + ", column " + location.getColumnNr() + ")";
    }
}

package io.usagemeter.ingest.internal;

import java.util.Locale;
import java.util.Optional;

/** How a request body is framed, from its {@code Content-Type} (parameters such as charset ignored). */
public enum RequestFormat {
    /** One object or an array of objects. */
    JSON("application/json"),
    /** CloudEvents structured mode: one envelope, the payload in {@code data}. */
    CLOUDEVENT("application/cloudevents+json"),
    /** CloudEvents batch mode: an array of envelopes. */
    CLOUDEVENTS_BATCH("application/cloudevents-batch+json");

    private final String mediaType;

    RequestFormat(String mediaType) {
        this.mediaType = mediaType;
    }

    public String mediaType() {
        return mediaType;
    }

    public static Optional<RequestFormat> of(String contentType) {
        if (contentType == null) {
            return Optional.empty();
        }
        int semicolon = contentType.indexOf(';');
        String media = (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).strip().toLowerCase(Locale.ROOT);
        for (RequestFormat format : values()) {
            if (format.mediaType.equals(media)) {
                return Optional.of(format);
            }
        }
        return Optional.empty();
    }
}

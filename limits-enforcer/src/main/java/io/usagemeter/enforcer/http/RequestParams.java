package io.usagemeter.enforcer.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.javalin.http.Context;
import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.kit.HttpProblem;
import io.usagemeter.schema.json.Json;
import java.time.Clock;
import java.time.YearMonth;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.UUID;

/** The enforcer's request parameters and bodies, parsed once; a bad one is a 400 naming the field. */
public final class RequestParams {

    private RequestParams() {
    }

    /** The path's {@code user_id}. */
    public static UUID userId(Context ctx) {
        String raw = ctx.pathParam("user_id");
        if (!isUuidText(raw)) {
            throw HttpProblem.badField("malformed user id", "user_id",
                    "must be a UUID such as 7c9e6679-7425-40de-944b-e07fc1f90ae7");
        }
        return UUID.fromString(raw);
    }

    /**
     * Whether {@code raw} is a UUID in its canonical 8-4-4-4-12 hex form ({@link UUID#fromString} alone accepts
     * shorter groups). A loop, not a regex: it runs on every limit check.
     */
    public static boolean isUuidText(String raw) {
        if (raw.length() != 36) {
            return false;
        }
        for (int i = 0; i < 36; i++) {
            char c = raw.charAt(i);
            boolean ok = i == 8 || i == 13 || i == 18 || i == 23 ? c == '-'
                    : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** {@code raw} as YYYY-MM; the current month when absent. */
    public static YearMonth month(String raw, Clock clock) {
        if (raw == null || raw.isBlank()) {
            return LimitRules.monthOf(clock.instant());
        }
        try {
            return YearMonth.parse(raw);
        } catch (DateTimeParseException e) {
            throw HttpProblem.badField("malformed month", "month", "must be YYYY-MM, was '" + raw + "'");
        }
    }

    public static int intParam(Context ctx, String name, int fallback, int min, int max) {
        String raw = ctx.queryParam(name);
        if (raw == null || raw.isBlank()) {
            return fallback;
        }
        try {
            int v = Integer.parseInt(raw);
            if (v < min || v > max) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw HttpProblem.badField("malformed " + name, name, "must be an integer in " + min + ".." + max);
        }
    }

    /** The JSON body as {@code type}; {@code whenEmpty} for an empty body, or 400 when that is null. */
    public static <T> T body(Context ctx, Class<T> type, T whenEmpty) {
        String text = ctx.body();
        if (text == null || text.isBlank()) {
            if (whenEmpty != null) {
                return whenEmpty;
            }
            throw new HttpProblem(400, "a JSON body is required");
        }
        try {
            return Json.read(text, type);
        } catch (JsonProcessingException e) {
            throw new HttpProblem(400, "malformed JSON body", List.of(e.getOriginalMessage()));
        }
    }
}

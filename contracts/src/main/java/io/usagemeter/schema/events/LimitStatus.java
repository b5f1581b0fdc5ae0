package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.math.BigDecimal;

/** Where usage stands against the effective limit: below 80 %, from 80 %, at 100 % or more. */
public enum LimitStatus {
    @JsonProperty("ok") OK,
    @JsonProperty("warning") WARNING,
    @JsonProperty("exceeded") EXCEEDED;

    private static final BigDecimal FIVE = BigDecimal.valueOf(5);
    private static final BigDecimal FOUR = BigDecimal.valueOf(4);

    /** ok below 80 %, warning from 80 %, exceeded at 100 % (as the database's {@code usage_state}). */
    public static LimitStatus of(long used, long effectiveLimit) {
        if (used >= effectiveLimit) {
            return EXCEEDED;
        }
        // used / limit >= 0.8  <=>  5 * used >= 4 * limit, without division (and without overflow).
        if (BigDecimal.valueOf(used).multiply(FIVE).compareTo(BigDecimal.valueOf(effectiveLimit).multiply(FOUR)) >= 0) {
            return WARNING;
        }
        return OK;
    }
}

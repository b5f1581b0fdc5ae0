package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Where usage stands against the effective limit: below 80 %, from 80 %, at 100 % or more. */
public enum LimitStatus {
    @JsonProperty("ok") OK,
    @JsonProperty("warning") WARNING,
    @JsonProperty("exceeded") EXCEEDED
}

package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonProperty;

public enum ReferralStatus {
    @JsonProperty("pending") PENDING,
    @JsonProperty("completed") COMPLETED
}

package io.usagemeter.cli.load;

/** How one request ended, by kind: an HTTP answer, or the way it got none. */
public enum Outcome {
    ACCEPTED("202"),
    OTHER_2XX("other 2xx"),
    REDIRECT("3xx"),
    CLIENT_ERROR("4xx"),
    OVERLOADED("503 with Retry-After"),
    OTHER_5XX("other 5xx"),
    CONNECT_REFUSED("connect refused"),
    TIMEOUT("timeout"),
    CONNECTION_CLOSED("connection closed without an answer"),
    IO_ERROR("other I/O error");

    private final String label;

    Outcome(String label) {
        this.label = label;
    }

    /** The kind's name in reports. */
    public String label() {
        return label;
    }

    /** True for the kinds whose exact status codes a report lists. */
    boolean hasStatusDetail() {
        return this == OTHER_2XX || this == REDIRECT || this == CLIENT_ERROR || this == OTHER_5XX;
    }

    /** What {@code --retry} sends again: the server said "later", failed, or could not be reached. */
    boolean retryable(int status) {
        return switch (this) {
            case OVERLOADED, OTHER_5XX, CONNECT_REFUSED, TIMEOUT, CONNECTION_CLOSED, IO_ERROR -> true;
            case CLIENT_ERROR -> status == 429 || status == 408;
            default -> false;
        };
    }

    static Outcome ofStatus(int status, boolean retryAfter) {
        if (status == 202) {
            return ACCEPTED;
        }
        if (status >= 200 && status < 300) {
            return OTHER_2XX;
        }
        if (status == 503 && retryAfter) {
            return OVERLOADED;
        }
        if (status >= 500) {
            return OTHER_5XX;
        }
        return status >= 400 ? CLIENT_ERROR : REDIRECT;
    }
}

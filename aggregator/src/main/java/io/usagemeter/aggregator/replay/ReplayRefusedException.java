package io.usagemeter.aggregator.replay;

/**
 * A replay or a rewind of the aggregator that cannot be done as asked (the log no longer holds its range, a replay
 * is already running, the aggregator still runs); nothing was changed.
 */
public final class ReplayRefusedException extends Exception {

    public ReplayRefusedException(String message) {
        super(message);
    }
}

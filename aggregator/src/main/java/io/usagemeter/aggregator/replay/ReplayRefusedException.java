package io.usagemeter.aggregator.replay;

/** A replay that cannot be done as asked (the log no longer holds its range, or one is already running); nothing was changed. */
public final class ReplayRefusedException extends Exception {

    public ReplayRefusedException(String message) {
        super(message);
    }
}

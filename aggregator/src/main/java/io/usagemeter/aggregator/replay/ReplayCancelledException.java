package io.usagemeter.aggregator.replay;

/** The replay was stopped before it finished; the temporary application was removed and it can simply be started again. */
public final class ReplayCancelledException extends Exception {

    public ReplayCancelledException(String message) {
        super(message);
    }
}

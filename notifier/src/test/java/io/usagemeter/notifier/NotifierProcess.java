package io.usagemeter.notifier;

/**
 * {@code meter notifier} in a JVM of its own, configured from its environment as in production, so a
 * test can kill it with {@code SIGKILL}: no close, no commit, no shutdown hook. Prints
 * {@code READY <http port>} once started.
 */
public final class NotifierProcess {

    private NotifierProcess() {
    }

    public static void main(String[] args) throws Exception {
        NotifierService service = NotifierService.create(NotifierConfig.fromEnv(System.getenv())).start();
        System.out.println("READY " + service.port());
        System.out.flush();
        service.awaitStop();
    }
}

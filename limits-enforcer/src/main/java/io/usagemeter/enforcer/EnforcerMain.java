package io.usagemeter.enforcer;

import java.util.concurrent.CountDownLatch;

/** Runs one enforcer instance configured from {@code METER_*} variables until the process is stopped. */
public final class EnforcerMain {

    private EnforcerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        run(EnforcerConfig.fromEnv(System.getenv()));
    }

    /** Starts the service and blocks; a named shutdown hook stops it cleanly. */
    public static void run(EnforcerConfig config) throws InterruptedException {
        EnforcerService service = EnforcerService.create(config).start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            service.close();
            stopped.countDown();
        }, "meter-enforcer-shutdown"));
        stopped.await();
    }
}

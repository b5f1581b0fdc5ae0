package io.usagemeter.enforcer;

import java.util.concurrent.CountDownLatch;

/** Runs one enforcer instance configured from {@code METER_*} variables until the process is stopped. */
public final class EnforcerMain {

    private EnforcerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        run(EnforcerConfig.fromEnv(System.getenv()));
    }

    /** Starts the service (without replays: this module cannot run one) and blocks until the process is stopped. */
    public static void run(EnforcerConfig config) throws InterruptedException {
        run(EnforcerService.create(config));
    }

    /** Starts the service and blocks; a named shutdown hook stops it cleanly. */
    public static void run(EnforcerService service) throws InterruptedException {
        service.start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            service.close();
            stopped.countDown();
        }, "meter-enforcer-shutdown"));
        stopped.await();
    }
}

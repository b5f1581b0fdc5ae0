package io.usagemeter.cli;

import io.usagemeter.notifier.NotifierConfig;
import io.usagemeter.notifier.NotifierService;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/**
 * {@code meter notifier}: delivers limit events as signed webhooks and serves the webhook admin API,
 * configured from {@code METER_*} variables, until the process is stopped; a named shutdown hook
 * stops it cleanly.
 */
@Command(name = "notifier", mixinStandardHelpOptions = true,
        description = "Run the notifier: limit events as signed webhooks (config from METER_NOTIFIER_*, METER_WEBHOOK_*, "
                + "METER_TOKEN_KEYSET, METER_ADMIN_*, METER_KAFKA_BOOTSTRAP, METER_DB_*).")
final class NotifierCommand implements Callable<Integer> {

    @ParentCommand
    Meter meter;

    @Override
    public Integer call() throws InterruptedException {
        NotifierService service = NotifierService.create(NotifierConfig.fromEnv(meter.environment()));
        Runtime.getRuntime().addShutdownHook(new Thread(service::close, "meter-notifier-shutdown"));
        service.start();
        service.awaitStop();
        return 0;
    }
}

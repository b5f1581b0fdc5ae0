package io.usagemeter.notifier.internal;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One HTTP POST of a signed webhook: connect within the connect timeout, answer (status and up to
 * {@value #MAX_BODY_BYTES} bytes of body) within the answer timeout, redirects not followed. Never
 * throws for the receiver's behaviour: every outcome is an {@link Outcome} for the delivery log.
 */
public final class WebhookSender {

    static final int MAX_BODY_BYTES = 4096;
    private static final int MAX_ERROR_CHARS = 500;

    /** What one attempt gave; {@code statusCode} is null when no answer came. */
    public record Outcome(Integer statusCode, long latencyMillis, String error) {
        public boolean succeeded() {
            return statusCode != null && statusCode >= 200 && statusCode < 300;
        }
    }

    private final HttpClient client;
    private final Duration answerTimeout;

    public WebhookSender(Duration connectTimeout, Duration answerTimeout) {
        this.client = HttpClient.newBuilder()
                .connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
        this.answerTimeout = answerTimeout;
    }

    public Outcome post(URI url, List<String[]> headers, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(url)
                .timeout(answerTimeout)
                .header("Content-Type", "application/json")
                .header("User-Agent", "usage-meter-notifier")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        for (String[] header : headers) {
            request.header(header[0], header[1]);
        }
        long started = System.nanoTime();
        CompletableFuture<HttpResponse<String>> answer = client.sendAsync(request.build(), info -> new CappedBody());
        try {
            // The request timeout covers the status line and headers; this bounds the capped body as well.
            HttpResponse<String> response = answer.get(answerTimeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
            long latency = elapsedMillis(started);
            int status = response.statusCode();
            if (status >= 200 && status < 300) {
                return new Outcome(status, latency, null);
            }
            String text = response.body().strip();
            return new Outcome(status, latency, "HTTP " + status + (text.isEmpty() ? "" : ": " + shorten(text)));
        } catch (TimeoutException e) {
            answer.cancel(true);
            return new Outcome(null, elapsedMillis(started), "no answer within " + answerTimeout.toSeconds() + " s");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            return new Outcome(null, elapsedMillis(started), describe(cause));
        } catch (CancellationException e) {
            return new Outcome(null, elapsedMillis(started), "cancelled");
        } catch (InterruptedException e) {
            answer.cancel(true);
            Thread.currentThread().interrupt();
            return new Outcome(null, elapsedMillis(started), "interrupted (notifier stopping)");
        }
    }

    private String describe(Throwable cause) {
        String name = cause.getClass().getSimpleName();
        if (name.equals("HttpConnectTimeoutException")) {
            return "could not connect within the connect timeout";
        }
        if (name.equals("HttpTimeoutException")) {
            return "no answer within " + answerTimeout.toSeconds() + " s";
        }
        String message = cause.getMessage();
        return shorten(name + (message == null || message.isBlank() ? "" : ": " + message));
    }

    private static String shorten(String text) {
        return text.length() <= MAX_ERROR_CHARS ? text : text.substring(0, MAX_ERROR_CHARS) + "...";
    }

    private static long elapsedMillis(long startedNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos);
    }

    /** Keeps the first {@value #MAX_BODY_BYTES} bytes of the body and cancels the rest of the stream. */
    static final class CappedBody implements HttpResponse.BodySubscriber<String> {
        private final CompletableFuture<String> result = new CompletableFuture<>();
        private final byte[] kept = new byte[MAX_BODY_BYTES];
        private int length;
        private Flow.Subscription subscription;

        @Override
        public CompletionStage<String> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            this.subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            for (ByteBuffer buffer : buffers) {
                int n = Math.min(buffer.remaining(), MAX_BODY_BYTES - length);
                buffer.get(kept, length, n);
                length += n;
            }
            if (length >= MAX_BODY_BYTES) {
                subscription.cancel();
                complete();
            } else {
                subscription.request(1);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            complete();
        }

        private void complete() {
            result.complete(new String(kept, 0, length, StandardCharsets.UTF_8));
        }
    }
}

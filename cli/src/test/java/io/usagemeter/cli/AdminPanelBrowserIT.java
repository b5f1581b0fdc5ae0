package io.usagemeter.cli;

import static io.usagemeter.schema.jooq.Tables.USERS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.replay.ReplayJobs;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.SinkTopics;
import io.usagemeter.cli.replay.AggregatorReplayRunner;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The admin panel at {@code /admin} in a real browser (Debian's chromium, headless, driven by Selenium) against
 * the real aggregator (with its PostgreSQL sink and replayer) and enforcer on an embedded broker of the class's
 * own (a replay reads everything its month holds) and embedded PostgreSQL. Each view is compared with what the
 * admin API answers for the same data, and saved as a screenshot under {@code target/screenshots/}.
 *
 * <p>One browser for the class. Skipped only when chromium or chromedriver is not installed (CI installs both).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AdminPanelBrowserIT {

    private static final String SECRET = "admin-panel-test-secret-of-32-bytes-or-more";
    private static final String ADMIN = "admin@example.com";
    private static final YearMonth MONTH = YearMonth.now(ZoneOffset.UTC);
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path SCREENSHOTS = Path.of("target", "screenshots");
    private static final Duration PIPELINE = Duration.ofSeconds(90);

    /** Three users with e-mails: one well below its limit, one in warning, one over it. */
    private static final UUID CALM = UUID.fromString("0a000000-0000-4000-8000-000000000001");
    private static final UUID BUSY = UUID.fromString("0b000000-0000-4000-8000-000000000002");
    private static final UUID OVER = UUID.fromString("0c000000-0000-4000-8000-000000000003");

    @TempDir
    static Path stateDir;

    private static TestStack kafka;
    private static TestStack postgres;
    private static AggregatorService aggregator;
    private static EnforcerService enforcer;
    private static WebDriver browser;
    private static String token;
    private static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)");
        kafka = TestStack.start();
        String bootstrap = kafka.kafkaBootstrap();
        postgres = TestStack.withSharedBroker();
        postgres.jdbcUrl("meter");
        FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
        DSLContext dsl = DSL.using(postgres.dataSource("meter"), SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        // As the platform's sign-up writes them: the panel searches by e-mail.
        dsl.insertInto(USERS, USERS.ID, USERS.EMAIL).values(CALM, "calm@example.com").values(BUSY, "busy@example.com")
                .values(OVER, "over@example.com").execute();

        AggregatorConfig aggregatorConfig = AggregatorConfig.defaults(bootstrap, stateDir.resolve("aggregator"))
                .withApplicationId("aggregator-admin-panel-it");
        SinkConfig sink = new SinkConfig(bootstrap, "admin-panel-it-sink", SinkTopics.standard(),
                SinkConfig.DEFAULT_MAX_POLL_RECORDS, Duration.ofMillis(50), Duration.ofMillis(400),
                postgres.jdbcUrl("meter"), postgres.user(), postgres.password());
        aggregator = new AggregatorService(aggregatorConfig, Clock.systemUTC(), sink).start();
        ReplayJobs jobs = new ReplayJobs(new Replayer(aggregatorConfig, dsl, Clock.systemUTC(), stateDir.resolve("replays"),
                (short) 1), Clock.systemUTC());
        EnforcerConfig config = EnforcerConfig.defaults(bootstrap, stateDir.resolve("enforcer"), postgres.jdbcUrl("meter"),
                        postgres.user(), postgres.password())
                .withApplicationId("enforcer-admin-panel-it")
                .withAdminAuth(SECRET, null, Set.of(ADMIN));
        enforcer = new EnforcerService(config, dsl, Clock.systemUTC(), new Properties(),
                new AggregatorReplayRunner(jobs, Clock.systemUTC())).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> aggregator.state() == KafkaStreams.State.RUNNING
                && enforcer.streams().state() == KafkaStreams.State.RUNNING);
        token = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), ADMIN, Duration.ofMinutes(30), Clock.systemUTC());

        sendEvents(CALM, 120, Provider.GITHUB);
        sendEvents(BUSY, 500, Provider.OPENAI);
        sendEvents(BUSY, 350, Provider.ANTHROPIC);
        sendEvents(OVER, 1100, Provider.GEMINI);
        sendReferral(BUSY, CALM);
        await().atMost(PIPELINE).untilAsserted(() -> {
            assertThat(limit(CALM).get("used").asLong()).isEqualTo(120);
            assertThat(limit(BUSY).get("used").asLong()).isEqualTo(850);
            assertThat(limit(OVER).get("used").asLong()).isEqualTo(1100);
            assertThat(limit(BUSY).get("referral_count").asInt()).isEqualTo(1);
            JsonNode page = api("GET", "/v1/admin/users?sort=used_desc", null).body();
            assertThat(page.get("users").findValuesAsText("current_month_used")).containsExactly("1100", "850", "120");
        });

        Files.createDirectories(SCREENSHOTS);
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--lang=en-US");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (enforcer != null) {
            enforcer.close();
        }
        if (aggregator != null) {
            aggregator.close();
        }
        if (postgres != null) {
            if (postgres != null) {
                postgres.close();
            }
        }
        if (kafka != null) {
            if (kafka != null) {
                kafka.close();
            }
        }
    }

    @Test
    @Order(1)
    void theSignInLinkOpensTheUsersTablePagedSearchedAndFilteredByTheServer() throws Exception {
        browser.get(base() + "/admin/#token=" + token);
        waitFor(By.cssSelector("#users-table tbody tr"));
        assertThat(browser.getCurrentUrl()).as("the token leaves the address bar").doesNotContain(token).endsWith("#/users");
        assertThat(js("return sessionStorage.getItem('usage-meter.admin-token')")).isEqualTo(token);
        assertThat(js("return document.cookie + localStorage.length")).isEqualTo("0");
        assertThat(text(By.id("who"))).isEqualTo("Signed in as " + ADMIN);

        // Most used first, each row's figures as the API has them.
        JsonNode page = api("GET", "/v1/admin/users?page_size=25", null).body();
        List<WebElement> rows = browser.findElements(By.cssSelector("#users-table tbody tr"));
        assertThat(rows).hasSize(3);
        assertThat(rows).extracting(r -> r.getAttribute("data-user-id")).containsExactly(OVER.toString(), BUSY.toString(),
                CALM.toString());
        for (int i = 0; i < rows.size(); i++) {
            JsonNode user = page.get("users").get(i);
            WebElement row = rows.get(i);
            assertThat(row.findElement(By.cssSelector(".used .figures")).getText()).isEqualTo(
                    thousands(user.get("current_month_used").asLong()) + " / " + thousands(user.get("effective_limit").asLong()));
            assertThat(row.findElement(By.cssSelector(".state-cell")).getText()).isEqualTo(user.get("current_month_state").asText());
            assertThat(row.findElement(By.cssSelector(".referrals")).getText()).isEqualTo(user.get("referral_count").asText());
            assertThat(row.findElement(By.cssSelector(".plan")).getText()).isEqualTo("free");
        }
        assertThat(rows.get(0).findElement(By.cssSelector(".state-cell")).getText()).isEqualTo("exceeded");
        assertThat(rows.get(1).findElement(By.cssSelector(".state-cell")).getText()).isEqualTo("warning");
        assertThat(text(By.id("users-summary"))).startsWith("3 users");
        screenshot("users");

        // Sorted by use, the other way round.
        browser.findElement(By.id("sort-used")).click();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> assertThat(firstRowUser()).isEqualTo(CALM.toString()));

        // Filtered by state on the server: only the user over their limit.
        new Select(browser.findElement(By.id("state-filter"))).selectByValue("exceeded");
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> {
            assertThat(browser.findElements(By.cssSelector("#users-table tbody tr"))).hasSize(1);
            assertThat(firstRowUser()).isEqualTo(OVER.toString());
            assertThat(text(By.id("users-summary"))).startsWith("1 user in state exceeded");
        });
        new Select(browser.findElement(By.id("state-filter"))).selectByValue("");

        // Searched by e-mail, then by the start of an id.
        search("busy@");
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> {
            assertThat(browser.findElements(By.cssSelector("#users-table tbody tr"))).hasSize(1);
            assertThat(firstRowUser()).isEqualTo(BUSY.toString());
        });
        search("0c00");
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> assertThat(firstRowUser()).isEqualTo(OVER.toString()));
        search("nobody-here");
        waitFor(By.id("users-empty"));
        assertThat(browser.getCurrentUrl()).contains("q=nobody-here");
    }

    @Test
    @Order(2)
    void oneUserExplainsTheLimitAndAddsCreditsThenResetsUsageEachConfirmed() throws Exception {
        openUser(BUSY);
        JsonNode limit = limit(BUSY);
        // 1000 free units, one completed referral (+2 % and 10 bonus credits): floor(1000 * 1.02) + 10 = 1030.
        assertThat(limit.get("effective_limit").asLong()).isEqualTo(1030);
        assertThat(text(By.id("user-title"))).isEqualTo("busy@example.com");
        assertThat(text(By.cssSelector("#fact-effective strong"))).isEqualTo("1,030");
        assertThat(text(By.id("fact-used"))).isEqualTo("850");
        assertThat(text(By.id("fact-remaining"))).isEqualTo(thousands(limit.get("remaining").asLong()));
        assertThat(text(By.id("fact-referrals"))).isEqualTo("1 completed, multiplier +2 %");
        assertThat(text(By.id("fact-bonus"))).isEqualTo("10");
        assertThat(text(By.id("fact-state"))).startsWith("warning");
        assertThat(text(By.id("fact-as-of"))).endsWith("fresh");
        // By provider, as GET /v1/usage has it; by day, every event of today.
        assertThat(text(By.cssSelector("#by-provider [data-provider=openai]"))).isEqualTo("500");
        assertThat(text(By.cssSelector("#by-provider [data-provider=anthropic]"))).isEqualTo("350");
        assertThat(browser.findElements(By.cssSelector("#usage-chart canvas"))).isNotEmpty();
        JsonNode byDay = api("GET", "/v1/admin/users/" + BUSY + "/usage-by-day?month=" + MONTH, null).body();
        assertThat(byDay.get("days").findValuesAsText("units").stream().mapToLong(Long::parseLong).sum()).isEqualTo(850);
        // Referrals: BUSY referred CALM.
        assertThat(text(By.id("referrals-made"))).contains("calm@example.com").contains("completed");
        screenshot("user");

        // Add credits: the preview shows the effect, the apply waits for the stream to show it.
        browser.findElement(By.id("action-credits")).click();
        WebElement amount = waitFor(By.id("credits-amount"));
        amount.clear();
        amount.sendKeys("250");
        browser.findElement(By.id("credits-preview")).click();
        WebElement effect = waitFor(By.id("credits-effect"));
        assertThat(effect.getText()).contains("Bonus credits 10 260").contains("Effective limit 1,030 1,280")
                .contains("Remaining 180 430").contains("State warning ok");
        assertThat(limit(BUSY).get("bonus_credits").asLong()).as("nothing applied by the preview").isEqualTo(10);
        browser.findElement(By.id("credits-apply")).click();
        await().atMost(PIPELINE).ignoreExceptions().untilAsserted(() -> assertThat(text(By.id("credits-status"))).startsWith("Done: now 850 of 1,280 used"));
        screenshot("user-credits-applied");
        browser.findElement(By.id("credits-close")).click();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> assertThat(text(By.id("fact-bonus"))).isEqualTo("260"));
        assertThat(limit(BUSY).get("bonus_credits").asLong()).isEqualTo(260);

        // Reset usage: the dialog opens on its preview (used becomes 0), and the new state follows.
        browser.findElement(By.id("action-reset")).click();
        effect = waitFor(By.id("reset-effect"));
        assertThat(effect.getText()).contains("Used 850 0").contains("Remaining 430 1,280").contains("State ok ok");
        browser.findElement(By.id("reset-apply")).click();
        await().atMost(PIPELINE).ignoreExceptions().untilAsserted(() -> assertThat(text(By.id("reset-status"))).startsWith("Done: now 0 of 1,280 used"));
        browser.findElement(By.id("reset-close")).click();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> assertThat(text(By.id("fact-used"))).isEqualTo("0"));
        assertThat(limit(BUSY).get("used").asLong()).isZero();
        waitFor(By.id("usage-chart"));
        screenshot("user-after-reset");
    }

    @Test
    @Order(3)
    void anActionTheApiRefusesShowsTheApisOwnErrorText() throws Exception {
        openUser(CALM);
        browser.findElement(By.id("action-credits")).click();
        WebElement amount = waitFor(By.id("credits-amount"));
        amount.clear();
        amount.sendKeys("-5");
        browser.findElement(By.id("credits-preview")).click();
        WebElement error = waitFor(By.cssSelector("#credits-dialog .error"));
        ApiAnswer refused = api("POST", "/v1/admin/users/" + CALM + "/credits", "{\"amount\": -5, \"dry_run\": true}");
        assertThat(refused.status()).isEqualTo(400);
        JsonNode detail = refused.body().get("details").get(0);
        assertThat(error.getText()).startsWith("400: " + refused.body().get("error").asText())
                .contains(detail.get("field").asText() + ": " + detail.get("message").asText());
        assertThat(browser.findElement(By.id("credits-apply")).isEnabled()).isFalse();
        screenshot("user-refused");
        browser.findElement(By.id("credits-close")).click();
        assertThat(limit(CALM).get("bonus_credits").asLong()).as("CALM was referred, BUSY got the credits").isZero();
    }

    @Test
    @Order(4)
    void aDryRunReplayIsWatchedToItsEndWithItsReport() throws Exception {
        browser.get(base() + "/admin/#/replays");
        WebElement dryRun = waitFor(By.id("replay-dry-run"));
        assertThat(dryRun.isSelected()).isTrue();
        browser.findElement(By.id("replay-start")).click();
        await().atMost(Duration.ofSeconds(120)).ignoreExceptions()
                .untilAsserted(() -> assertThat(text(By.id("replay-state"))).isEqualTo("succeeded"));
        String jobId = text(By.id("replay-job-id"));
        assertThat(browser.getCurrentUrl()).endsWith("#/replays/" + jobId);
        JsonNode job = api("GET", "/v1/admin/replay/" + jobId, null).body();
        assertThat(job.at("/report/dry_run").asBoolean()).isTrue();
        assertThat(text(By.id("report-records"))).isEqualTo(thousands(job.at("/report/records_read").asLong()));
        assertThat(text(By.id("report-rebuilt"))).isEqualTo(thousands(job.at("/report/summaries_rebuilt").asLong()));
        assertThat(text(By.id("report-changes"))).isEqualTo(String.valueOf(job.at("/report/changes").size()));
        assertThat(job.at("/report/summaries_rebuilt").asInt()).isEqualTo(3);
        screenshot("replay");
    }

    @Test
    @Order(5)
    void analyticsShowTheApisNumbersAsChartsWithTables() throws Exception {
        browser.get(base() + "/admin/#/analytics");
        waitFor(By.cssSelector("#growth-chart canvas"));
        JsonNode monthly = api("GET", "/v1/admin/analytics?month=" + MONTH, null).body();
        assertThat(text(By.id("month-totals"))).isEqualTo(MONTH + ": " + monthly.get("users").asText() + " users with usage, "
                + thousands(monthly.get("calls").asLong()) + " calls, " + thousands(monthly.get("used").asLong()) + " units used.");
        for (String chart : List.of("growth-chart", "events-chart", "states-chart", "top-chart")) {
            assertThat(browser.findElements(By.cssSelector("#" + chart + " canvas"))).as(chart).isNotEmpty();
        }
        String today = Instant.now().atOffset(ZoneOffset.UTC).toLocalDate().toString();
        JsonNode daily = api("GET", "/v1/admin/analytics/daily?from=" + today + "&to=" + today, null).body().get("days").get(0);
        assertThat(daily.get("new_users").asLong()).isEqualTo(3);
        assertThat(daily.get("completed_referrals").asLong()).isEqualTo(1);
        // The tables under the charts hold the same figures (opened, as a keyboard user would).
        for (WebElement details : browser.findElements(By.cssSelector("details.numbers"))) {
            details.findElement(By.tagName("summary")).click();
        }
        String growth = text(By.cssSelector("#growth details table"));
        assertThat(growth).contains(today + " 3 1");
        assertThat(daily.get("events").asLong()).isEqualTo(120 + 850 + 1100);
        assertThat(daily.at("/events_by_provider/anthropic").asLong()).isEqualTo(350);
        StringBuilder row = new StringBuilder(today);
        for (String provider : List.of("openai", "anthropic", "github", "gemini", "other")) {
            row.append(' ').append(thousands(daily.at("/events_by_provider/" + provider).asLong()));
        }
        assertThat(text(By.cssSelector("#events details table"))).contains(row + " " + thousands(daily.get("events").asLong()));
        String states = text(By.cssSelector("#states details table"));
        assertThat(states).contains("ok " + monthly.at("/users_by_state/ok").asText())
                .contains("exceeded " + monthly.at("/users_by_state/exceeded").asText());
        assertThat(text(By.cssSelector("#top details table"))).contains("over@example.com 1,100 1,000 exceeded");
        screenshot("analytics");
    }

    @Test
    @Order(6)
    void thePageFitsAPhoneWithoutScrollingSideways() throws Exception {
        try {
            browser.manage().window().setSize(new Dimension(390, 844));
            browser.get(base() + "/admin/#/users");
            waitFor(By.cssSelector("#users-table tbody tr"));
            assertThat(((Number) js("return document.documentElement.scrollWidth")).intValue())
                    .isLessThanOrEqualTo(((Number) js("return window.innerWidth")).intValue());
            screenshot("users-phone");
        } finally {
            browser.manage().window().setSize(new Dimension(1280, 1000));
        }
    }

    @Test
    @Order(7)
    void aWrongOrExpiredTokenBringsTheSignInBackWithTheApisReason() throws Exception {
        browser.get(base() + "/admin/#token=not-a-token");
        WebElement reason = waitFor(By.cssSelector("#sign-in-status .error"));
        assertThat(reason.getText()).isEqualTo("401: " + apiWith("not-a-token").get("error").asText());
        assertThat(js("return sessionStorage.getItem('usage-meter.admin-token')")).isNull();

        String expired = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), ADMIN, Duration.ofMinutes(1),
                Clock.fixed(Instant.now().minus(Duration.ofHours(2)), ZoneOffset.UTC));
        assertThat(apiWith(expired).get("error").asText()).isEqualTo("admin token expired");
        WebElement input = browser.findElement(By.id("token"));
        input.sendKeys(expired);
        browser.findElement(By.id("sign-in")).click();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() ->
                assertThat(text(By.cssSelector("#sign-in-status .error"))).isEqualTo("401: admin token expired"));
        screenshot("sign-in-expired");

        // A good token typed in signs in; a token that expires while the page is open brings the sign-in back.
        browser.findElement(By.id("token")).sendKeys(token);
        browser.findElement(By.id("sign-in")).click();
        waitFor(By.cssSelector("#users-table tbody tr"));
        js("sessionStorage.setItem('usage-meter.admin-token', arguments[0])", expired);
        browser.findElement(By.cssSelector("#nav a[data-section=analytics]")).click();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() ->
                assertThat(text(By.cssSelector("#sign-in-status .error"))).isEqualTo("401: admin token expired"));
    }

    // ---- helpers

    private static String base() {
        return "http://localhost:" + enforcer.port();
    }

    /** The element once visible; if it never shows, the failure carries what the page shows instead. */
    private static WebElement waitFor(By by) {
        try {
            return new WebDriverWait(browser, Duration.ofSeconds(30)).until(ExpectedConditions.visibilityOfElementLocated(by));
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError(by + " never showed at " + browser.getCurrentUrl() + "; the page shows: "
                    + js("return document.body.innerText"), e);
        }
    }

    /** The element's text, whitespace folded; read again if the view rendered anew in between. */
    private static String text(By by) {
        for (int attempt = 1; ; attempt++) {
            try {
                return browser.findElement(by).getText().replaceAll("\\s+", " ").strip();
            } catch (org.openqa.selenium.StaleElementReferenceException e) {
                if (attempt == 5) {
                    throw e;
                }
            }
        }
    }

    private static Object js(String script, Object... args) {
        return ((JavascriptExecutor) browser).executeScript(script, args);
    }

    private static String firstRowUser() {
        return (String) js("return document.querySelector('#users-table tbody tr')?.dataset.userId ?? null");
    }

    /** Opens one user's view and waits until it shows that user (not the view it replaces). */
    private static void openUser(UUID user) {
        browser.get(base() + "/admin/#/users/" + user);
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
                .untilAsserted(() -> assertThat(text(By.id("user-id"))).isEqualTo(user.toString()));
        waitFor(By.id("fact-effective"));
    }

    private static void search(String text) {
        WebElement box = browser.findElement(By.id("user-search"));
        box.clear();
        box.sendKeys(text);
    }

    private static void screenshot(String name) throws Exception {
        byte[] png = ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES);
        Files.write(SCREENSHOTS.resolve("admin-" + name + ".png"), png);
    }

    private static String thousands(long n) {
        return String.format(java.util.Locale.US, "%,d", n);
    }

    record ApiAnswer(int status, JsonNode body) {
    }

    private static ApiAnswer api(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        return new ApiAnswer(response.statusCode(), Json.tree(response.body()));
    }

    private static JsonNode apiWith(String bearer) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base() + "/v1/admin/session"))
                .header("Authorization", "Bearer " + bearer).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(401);
        return Json.tree(response.body());
    }

    private static JsonNode limit(UUID user) throws Exception {
        ApiAnswer answer = api("GET", "/v1/limits/" + user, null);
        assertThat(answer.status()).as(answer.body().toString()).isEqualTo(200);
        return answer.body();
    }

    /** {@code count} events of one unit each, this month, a minute ago, keyed as ingest keys them. */
    private static void sendEvents(UUID user, int count, Provider provider) throws Exception {
        Instant monthStart = MONTH.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        Instant at = Instant.now().minusSeconds(60);
        Instant when = at.isBefore(monthStart) ? monthStart : at;
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", kafka.kafkaBootstrap(),
                "linger.ms", 5), new StringSerializer(), Topics.USAGE_EVENTS.valueSerde().serializer())) {
            List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                UsageEvent e = new UsageEvent("panel-" + user + "-" + provider.wireName() + "-" + i, user, when, provider,
                        "/v1/call", "POST", 200, 10, 100, 100, 5, 1);
                sent.add(producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, when.toEpochMilli(),
                        user.toString(), e)));
            }
            for (var f : sent) {
                f.get();
            }
        }
    }

    private static void sendReferral(UUID referrer, UUID referred) throws Exception {
        Instant at = Instant.now().minusSeconds(30);
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", kafka.kafkaBootstrap()),
                new StringSerializer(), Topics.REFERRALS.valueSerde().serializer())) {
            ReferralEvent r = new ReferralEvent("panel-ref-1", referrer, referred, ReferralStatus.COMPLETED, at);
            producer.send(new ProducerRecord<>(Topics.REFERRALS.name(), null, at.toEpochMilli(), referred.toString(), r)).get();
        }
    }

}

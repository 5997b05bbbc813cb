package org.mas.broker.console;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.jms.Message;
import jakarta.jms.TextMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;

import org.mas.broker.support.Envelopes;
import org.mas.broker.support.RoutesCopy;
import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The console in a real browser (headless Chromium through Selenium WebDriver) against a running broker: sign-in,
 * each page with data the test made through the API, the actions an operator takes, at laptop and phone size.
 * Screenshots of each page go to target/console-screenshots/.
 */
@ExtendWith(Browser.class)
class ConsoleBrowserTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    static final String VIEWER_KEY = "console-viewer-key-0123";
    /** The broker's routes, from a copy whose rules file a test edits (the file watch off: the page reloads it). */
    static final RoutesCopy ROUTES;
    static {
        try {
            ROUTES = RoutesCopy.of(Files.createTempDirectory("mas-console-routes"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    // a small queue_size, evaluated every second, so a test's queue backs up and raises its alert at once
    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of(
            "MESSAGE_BROKER_ALERT_THRESHOLDS_QUEUE_SIZE", "3", "MESSAGE_BROKER_ROUTING_INTERVAL", "1",
            // the operator's key (every scope) and a viewer's, which may look but not act
            "MESSAGE_BROKER_API_KEYS", "[\"" + RunningBroker.API_KEY + "\", {\"name\": \"viewer\", \"key\": \"" + VIEWER_KEY
                    + "\", \"scopes\": [\"read\"]}]"), ROUTES.properties(0));

    private static ChromeDriver driver;
    private static Path profile;

    @BeforeAll
    static void startBrowser() throws Exception {
        profile = Files.createTempDirectory("mas-console-chromium");
        driver = Browser.start(profile);
    }

    @AfterAll
    static void stopBrowser() throws Exception {
        if (driver != null) {
            driver.quit();
        }
        if (profile != null) {
            try (var files = Files.walk(profile)) {
                for (Path file : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(file);
                }
            }
        }
    }

    @AfterEach
    void laptopSizeAgain() {
        driver.manage().window().setSize(Browser.LAPTOP);
    }

    @Test
    void aWrongKeyShowsTheBrokersErrorAndNothingButTheSignIn() throws Exception {
        open("#/queues");
        assertThat(driver.findElement(By.id("sign-in")).isDisplayed()).isTrue();
        assertThat(driver.findElement(By.id("top")).isDisplayed()).as("no navigation without a key").isFalse();
        assertThat(driver.findElement(By.id("main")).isDisplayed()).isFalse();

        driver.findElement(By.id("api-key")).sendKeys("not-the-key-0123456789");
        driver.findElement(By.id("sign-in-button")).click();
        WebElement error = wait(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#sign-in-error .error")));
        assertThat(error.getText()).contains("refused this API key").contains("401");
        assertThat(storedKey()).as("a refused key is not kept").isNull();
        assertThat(driver.getCurrentUrl()).doesNotContain("not-the-key");
        Browser.screenshot(driver, "sign-in-wrong-key", true);
    }

    @Test
    void theOverviewShowsAQueueAChartAndTheAlertOfABackedUpQueue() throws Exception {
        String agent = Envelopes.uniqueAgent("overview");
        for (int i = 0; i < 5; i++) { // past queue_size (3): highlighted and alerted
            assertThat(broker.postMessage(Envelopes.to("planner", agent)).statusCode()).isEqualTo(202);
        }
        signIn();
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("top-queues-table"), "mas.agent." + agent));
        wait(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#chart-throughput .uplot canvas")));
        wait(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#chart-latency .uplot canvas")));
        wait(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#chart-failures .uplot canvas")));
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("health"), "UP"));
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("alerts"), "mas.agent." + agent));
        assertThat(driver.findElement(By.id("stats-numbers")).getText()).contains("throughput/s");
        // the charts draw a point per poll of /api/stats (every 5 s): two make a line
        wait(d -> ((Number) script("return JSON.parse(sessionStorage.getItem('mas.console.stats') || '[]').length")).intValue() >= 2);
        Browser.screenshot(driver, "overview", true);

        driver.findElement(By.cssSelector("#nav a[data-page=queues]")).click();
        By row = By.cssSelector("#queues-table tr[data-queue='mas.agent." + agent + "']");
        wait(ExpectedConditions.attributeContains(row, "class", "backlog"));
        assertThat(driver.findElement(row).getText()).contains("5");
        Browser.screenshot(driver, "queues", true);

        // purge, confirmed in the dialog; the table shows it at once
        click(row, "button.purge");
        wait(ExpectedConditions.elementToBeClickable(By.id("confirm-ok"))).click();
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "Purged 5 message(s)"));
        await().until(() -> broker.depth("mas.agent." + agent) == 0);
        wait(d -> !String.valueOf(d.findElement(row).getDomAttribute("class")).contains("backlog"));
    }

    @Test
    void aDeadLetterIsFoundEditedReplayedAndReachesItsAgent() throws Exception {
        String first = Envelopes.uniqueAgent("parked");
        String second = Envelopes.uniqueAgent("replayed-to");
        String id = "console-" + Envelopes.uniqueAgent("dlq");
        assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"planner\",\"to_agent\":\"" + first
                + "\",\"message_type\":\"request\",\"payload\":{\"task\":\"summarize\"},\"requires_ack\":true}").statusCode())
                .isEqualTo(202);
        HttpResponse<String> rejected = broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + first + "\",\"status\":\"rejected\",\"detail\":\"not my job\"}");
        assertThat(rejected.statusCode()).as(rejected.body()).isEqualTo(200);
        broker.receiveExactly("mas.agent." + first, 1);

        signIn();
        go("#/dlq");
        WebElement agentFilter = wait(ExpectedConditions.visibilityOfElementLocated(By.id("dlq-agent")));
        agentFilter.sendKeys(first);
        driver.findElement(By.id("dlq-apply")).click();
        By row = By.cssSelector("#dlq-table tr[data-id='" + id + "']");
        wait(ExpectedConditions.textToBePresentInElementLocated(row, "rejected by " + first));
        assertThat(driver.findElements(By.cssSelector("#dlq-table tbody tr"))).hasSize(1);
        click(row, "button.open-dlq");
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("dlq-open-reason"), "not my job"));
        wait(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#dlq-timeline svg g.step[data-event=dead_lettered]")));
        JsonNode envelope = JSON.readTree(driver.findElement(By.id("replay-editor")).getDomProperty("value"));
        assertThat(envelope.path("id").asText()).isEqualTo(id);

        // an edit the schema refuses: its errors next to the editor, and the dead letter stays
        setEditor(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(((ObjectNode) envelope.deepCopy())
                .put("message_type", "gossip")));
        driver.findElement(By.id("replay-edited")).click();
        wait(ExpectedConditions.elementToBeClickable(By.id("confirm-ok"))).click();
        WebElement errors = wait(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("#replay-errors .error")));
        assertThat(errors.getText()).contains("still invalid").contains("message_type").contains("400");
        assertThat(broker.depth("mas.dlq")).isEqualTo(1);
        script("arguments[0].scrollIntoView()", driver.findElement(By.id("dlq-open")));
        Browser.screenshot(driver, "dead-letters", true);

        // addressed to another agent: replayed, gone from the list at once, and delivered there
        setEditor(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(((ObjectNode) envelope.deepCopy())
                .put("to_agent", second)));
        driver.findElement(By.id("replay-edited")).click();
        wait(ExpectedConditions.elementToBeClickable(By.id("confirm-ok"))).click();
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "Replayed " + id));
        wait(ExpectedConditions.invisibilityOfElementLocated(row));
        assertThat(driver.findElement(By.id("dlq-total")).getText()).startsWith("0 ");
        Message delivered = broker.receiveOne("mas.agent." + second);
        assertThat(delivered).as("the edited envelope reached " + second).isNotNull();
        assertThat(JSON.readTree(((TextMessage) delivered).getText()).path("to_agent").asText()).isEqualTo(second);
        await().until(() -> broker.depth("mas.dlq") == 0);
    }

    @Test
    void aMessagesTimelineShowsItsSteps() throws Exception {
        String agent = Envelopes.uniqueAgent("timeline");
        String id = "console-" + Envelopes.uniqueAgent("msg");
        assertThat(broker.postMessage("{\"id\":\"" + id + "\",\"from_agent\":\"planner\",\"to_agent\":\"" + agent
                + "\",\"message_type\":\"request\",\"payload\":{},\"requires_ack\":true,\"correlation_id\":\"corr-" + id
                + "\"}").statusCode()).isEqualTo(202);
        assertThat(broker.post("/api/messages/" + id + "/ack", RunningBroker.API_KEY, "application/json",
                "{\"agent\":\"" + agent + "\",\"status\":\"processed\"}").statusCode()).isEqualTo(200);
        JsonNode status = JSON.readTree(broker.get("/api/messages/" + id, RunningBroker.API_KEY).body());
        List<String> events = status.path("timeline").findValuesAsText("event");
        assertThat(events).contains("accepted", "queued", "acked");

        signIn();
        go("#/message");
        wait(ExpectedConditions.visibilityOfElementLocated(By.id("search-value"))).sendKeys(id);
        driver.findElement(By.id("search-button")).click();
        wait(ExpectedConditions.numberOfElementsToBe(By.cssSelector("#timeline-picture g.step"), events.size()));
        List<String> drawn = driver.findElements(By.cssSelector("#timeline-picture g.step")).stream()
                .map(step -> step.getDomAttribute("data-event")).toList();
        assertThat(drawn).isEqualTo(events);
        assertThat(driver.findElement(By.cssSelector("#recipients-table tr[data-agent='" + agent + "']")).getText())
                .contains("acked");
        assertThat(driver.getCurrentUrl()).contains("#/message/" + id).doesNotContain(RunningBroker.API_KEY);
        Browser.screenshot(driver, "message", true);

        // by correlation_id: the search's answer, or a clear message where this broker has no search yet
        new Select(driver.findElement(By.id("search-field"))).selectByValue("correlation_id");
        WebElement value = driver.findElement(By.id("search-value"));
        value.clear();
        value.sendKeys("corr-" + id);
        driver.findElement(By.id("search-button")).click();
        wait(d -> !d.findElements(By.cssSelector("#search-results a")).isEmpty()
                || d.findElement(By.id("message-result")).getText().contains("does not offer the search"));
    }

    @Test
    void theRoutingDryRunAnswersInTheForm() throws Exception {
        signIn();
        go("#/routing");
        wait(ExpectedConditions.elementToBeClickable(By.id("routing-run"))).click();
        // the example envelope's outcome, its recipient and queue as the API answers them
        wait(d -> !d.findElements(By.id("routing-recipients")).isEmpty());
        assertThat(driver.findElement(By.id("routing-outcome")).getText()).contains("queued").contains("202");
        assertThat(driver.findElement(By.id("routing-recipients")).getText()).contains("worker-1")
                .contains("mas.agent.worker-1");
        Browser.screenshot(driver, "routing", true);
    }

    @Test
    void theRoutingPageShowsTheRulesInForceAFailedReloadAndReloads() throws Exception {
        String shipped = RoutesCopy.shippedWith("");
        try {
            signIn();
            go("#/routing");
            wait(ExpectedConditions.textToBePresentInElementLocated(By.id("routing-up-to-date"), "the same as the rules in force"));

            // a broken file: the reload fails, the page says why and that the rules in force stay
            ROUTES.writeRules(shipped + "\n  - [unclosed\n");
            wait(ExpectedConditions.elementToBeClickable(By.id("routing-reload"))).click();
            wait(ExpectedConditions.elementToBeClickable(By.id("confirm-ok"))).click();
            WebElement failed = wait(ExpectedConditions.visibilityOfElementLocated(By.id("routing-last-error")));
            assertThat(failed.getText()).contains("failed to load").contains("routing-rules.yaml has an error")
                    .contains("stay in force");
            assertThat(driver.findElement(By.id("notice")).getText()).contains("Reload failed").contains("has an error");
            assertThat(driver.findElement(By.id("routing-up-to-date")).getText()).contains("changed since");
            Browser.screenshot(driver, "routing-reload-failed", false);

            // a good change: reloaded, the error gone
            ROUTES.writeRules(RoutesCopy.shippedWith(RoutesCopy.rule("console-copy",
                    "${exchangeProperty.envelope.payload[console]} == 'copy'", "add(*, 'console-auditor')")));
            driver.findElement(By.id("routing-reload")).click();
            wait(ExpectedConditions.elementToBeClickable(By.id("confirm-ok"))).click();
            wait(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "Rules reloaded"));
            wait(ExpectedConditions.textToBePresentInElementLocated(By.id("routing-up-to-date"), "the same as the rules in force"));
            assertThat(driver.findElements(By.id("routing-last-error"))).isEmpty();
        } finally {
            ROUTES.writeRules(shipped);
            assertThat(broker.post("/api/routing/reload", RunningBroker.API_KEY, "application/json", "").statusCode())
                    .isEqualTo(200);
        }
    }

    @Test
    void everyPageFitsAPhoneSizedScreen() throws Exception {
        signIn();
        driver.manage().window().setSize(Browser.PHONE);
        for (String page : List.of("overview", "queues", "dlq", "message", "routing")) {
            go("#/" + page);
            wait(ExpectedConditions.presenceOfElementLocated(By.id("page-" + page)));
            wait(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#page-" + page + " h1")));
            if (page.equals("overview")) {
                wait(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#chart-throughput .uplot canvas")));
                wait(ExpectedConditions.presenceOfElementLocated(By.id("top-queues-table")));
            }
            Object overflow = script("return document.documentElement.scrollWidth - window.innerWidth");
            assertThat(((Number) overflow).intValue()).as("horizontal overflow of %s at %s", page, Browser.PHONE).isLessThanOrEqualTo(0);
            assertThat(driver.findElement(By.cssSelector("#nav a[data-page=" + page + "]")).isDisplayed()).isTrue();
            Browser.screenshot(driver, page + "-phone", false);
        }
    }

    @Test
    void aLongAgentIdWrapsInsteadOfWideningTheQueuesTable() throws Exception {
        String agent = Envelopes.uniqueAgent("long") + "-" + "x".repeat(200); // agent ids may be 256 characters long
        assertThat(broker.postMessage(Envelopes.to("planner", agent)).statusCode()).isEqualTo(202);
        signIn();
        go("#/queues");
        By row = By.cssSelector("#queues-table tr[data-queue='mas.agent." + agent + "']");
        wait(ExpectedConditions.presenceOfElementLocated(row));
        Browser.screenshot(driver, "queues-long-agent-id", false);
        // the table fits its box, so the depth and the actions of every row are on the screen
        Number overflow = (Number) script("const box = document.getElementById('queues-table-box');"
                + "return box.scrollWidth - box.clientWidth");
        assertThat(overflow.intValue()).as("horizontal overflow of the queues table").isLessThanOrEqualTo(0);
        Number right = (Number) script("return arguments[0].querySelector('button.purge').getBoundingClientRect().right"
                + " - window.innerWidth", driver.findElement(row));
        assertThat(right.intValue()).as("the row's purge button is on the screen").isLessThanOrEqualTo(0);
    }

    @Test
    void aKeyThatLackedOperateLeavesTheNextKeysActionsEnabled() throws Exception {
        String agent = Envelopes.uniqueAgent("scopes");
        assertThat(broker.postMessage(Envelopes.to("planner", agent)).statusCode()).isEqualTo(202);
        By purge = By.cssSelector("#queues-table tr[data-queue='mas.agent." + agent + "'] button.purge");

        // the viewer's key is refused a purge: the buttons that need 'operate' are disabled, with the reason
        open("");
        driver.findElement(By.id("api-key")).sendKeys(VIEWER_KEY);
        driver.findElement(By.id("sign-in-button")).click();
        wait(ExpectedConditions.visibilityOfElementLocated(By.id("page-overview")));
        go("#/queues");
        click(By.cssSelector("#queues-table tr[data-queue='mas.agent." + agent + "']"), "button.purge");
        wait(ExpectedConditions.elementToBeClickable(By.id("confirm-ok"))).click();
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "lacks the scope 'operate'"));
        wait(d -> !d.findElement(purge).isEnabled());
        assertThat(broker.depth("mas.agent." + agent)).isEqualTo(1);

        // the broker stops taking that key (replaced in its configuration): the console signs out with the reason
        script("sessionStorage.setItem('mas.console.apiKey', 'console-viewer-key-removed')");
        go("#/overview");
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("sign-in-error"), "no longer takes this API key"));

        // the operator signs in in the same tab: what the viewer's key lacked does not hold for this one
        driver.findElement(By.id("api-key")).sendKeys(RunningBroker.API_KEY);
        driver.findElement(By.id("sign-in-button")).click();
        wait(ExpectedConditions.visibilityOfElementLocated(By.id("page-overview")));
        go("#/queues");
        wait(ExpectedConditions.presenceOfElementLocated(purge));
        assertThat(driver.findElement(purge).isEnabled()).as("purge for the operator's key").isTrue();
        click(By.cssSelector("#queues-table tr[data-queue='mas.agent." + agent + "']"), "button.purge");
        wait(ExpectedConditions.elementToBeClickable(By.id("confirm-ok"))).click();
        wait(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "Purged 1 message(s)"));
        await().until(() -> broker.depth("mas.agent." + agent) == 0);
    }

    // ---- helpers

    private static void open(String hash) {
        driver.get(broker.uri("/console/").toString());
        script("sessionStorage.clear()");
        driver.get(broker.uri("/console/" + hash).toString());
        driver.navigate().refresh();
        wait(ExpectedConditions.visibilityOfElementLocated(By.id("api-key")));
    }

    private static void signIn() {
        open("");
        driver.findElement(By.id("api-key")).sendKeys(RunningBroker.API_KEY);
        driver.findElement(By.id("sign-in-button")).click();
        wait(ExpectedConditions.visibilityOfElementLocated(By.id("page-overview")));
        assertThat(storedKey()).isEqualTo(RunningBroker.API_KEY);
    }

    /** Clicks a button in a row of a table that the page may redraw meanwhile. */
    private static void click(By row, String button) {
        wait(d -> {
            d.findElement(row).findElement(By.cssSelector(button)).click();
            return true;
        });
    }

    private static void go(String hash) {
        script("location.hash = arguments[0]", hash);
    }

    private static void setEditor(String text) {
        WebElement editor = driver.findElement(By.id("replay-editor"));
        editor.clear();
        editor.sendKeys(text);
    }

    private static String storedKey() {
        return (String) script("return sessionStorage.getItem('mas.console.apiKey')");
    }

    private static Object script(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(script, args);
    }

    private static <T> T wait(java.util.function.Function<? super org.openqa.selenium.WebDriver, T> condition) {
        try {
            return Browser.waiting(driver).until(condition);
        } catch (RuntimeException e) {
            try { Browser.screenshot(driver, "FAILED", false); Files.writeString(Browser.SCREENSHOTS.resolve("FAILED.html"), driver.getPageSource()); } catch (Exception x) { }
            throw e;
        }
    }
}

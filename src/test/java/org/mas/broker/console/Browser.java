package org.mas.broker.console;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Debian's headless Chromium driven by its chromium-driver. As a class-level condition ({@code @ExtendWith}), it
 * skips the browser tests, before their broker starts, where Chromium is missing, saying how to install it; under CI
 * ({@code CI=true}) a missing browser fails them instead.
 */
public final class Browser implements ExecutionCondition {

    static final Path CHROMIUM = Path.of(env("MAS_CHROMIUM", "/usr/bin/chromium"));
    static final Path CHROMEDRIVER = Path.of(env("MAS_CHROMEDRIVER", "/usr/bin/chromedriver"));
    static final Dimension LAPTOP = new Dimension(1366, 900);
    static final Dimension PHONE = new Dimension(390, 844);
    static final Path SCREENSHOTS = Path.of("target", "console-screenshots");
    /** With -Dmas.console.docs-screenshots=true the laptop-sized screenshots also replace README's, in docs/console/. */
    static final Path DOCS = Path.of("docs", "console");

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        if (Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER)) {
            return ConditionEvaluationResult.enabled("Chromium at " + CHROMIUM + ", its driver at " + CHROMEDRIVER);
        }
        String missing = "the console's browser tests need Chromium and its driver (" + CHROMIUM + ", " + CHROMEDRIVER
                + "): on Debian or Ubuntu, apt-get install -y chromium chromium-driver (or set MAS_CHROMIUM and "
                + "MAS_CHROMEDRIVER)";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new IllegalStateException("CI=true: " + missing);
        }
        return ConditionEvaluationResult.disabled("Skipped: " + missing);
    }

    /** A new headless Chromium with a fresh profile, at laptop size. */
    static ChromeDriver start(Path profile) {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile.toAbsolutePath(), "--window-size=" + LAPTOP.width + "," + LAPTOP.height);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(CHROMEDRIVER.toString())).usingAnyFreePort().build();
        ChromeDriver driver = new ChromeDriver(service, options);
        driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(60)).scriptTimeout(Duration.ofSeconds(30));
        return driver;
    }

    /** Generous: the pages answer in milliseconds, but the machine may be busy. */
    static WebDriverWait waiting(WebDriver driver) {
        // a page redraws its tables when fresh data comes: an element found just before is then looked up again
        return (WebDriverWait) new WebDriverWait(driver, Duration.ofSeconds(30), Duration.ofMillis(100))
                .ignoring(StaleElementReferenceException.class);
    }

    /** The page as it is now, to target/console-screenshots/{name}.png (and, for README, docs/console/ if asked). */
    static void screenshot(ChromeDriver driver, String name, boolean forDocs) throws IOException {
        Files.createDirectories(SCREENSHOTS);
        Path file = SCREENSHOTS.resolve(name + ".png");
        Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
        if (forDocs && Boolean.getBoolean("mas.console.docs-screenshots")) {
            Files.createDirectories(DOCS);
            Files.copy(file, DOCS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }
}

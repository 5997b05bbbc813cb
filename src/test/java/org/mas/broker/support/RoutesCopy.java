package org.mas.broker.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A copy of the project's routes/ in a temporary directory, for a broker whose routing rules a test edits: the broker
 * loads its routes from the copy ({@link #properties}), and the test writes the copy's routing-rules.yaml.
 */
public final class RoutesCopy {

    /** Where the shipped rules file says new rules go. */
    public static final String MARKER = "              # Add rules here";

    private final Path root;

    private RoutesCopy(Path root) {
        this.root = root;
    }

    public static RoutesCopy of(Path into) throws IOException {
        Path root = Files.createDirectories(into.resolve("routes"));
        Path shipped = Path.of("routes");
        try (var files = Files.walk(shipped)) {
            for (Path file : files.toList()) {
                Path target = root.resolve(shipped.relativize(file).toString());
                if (Files.isDirectory(file)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return new RoutesCopy(root);
    }

    /** Camel properties that load the broker's routes from this copy, and check the rules file every {@code watchMs}. */
    public Map<String, String> properties(long watchMs) {
        return Map.of("camel.main.routes-include-pattern", "file:" + root.toAbsolutePath() + "/**/*.yaml",
                "mas.routing.rules-watch-ms", String.valueOf(watchMs));
    }

    public Path rulesFile() {
        return root.resolve("routing/routing-rules.yaml");
    }

    /** The shipped rules with {@code rules} (YAML "when" entries, indented as the marker is) where new rules go. */
    public static String shippedWith(String rules) {
        try {
            String shipped = Files.readString(Path.of("routes/routing/routing-rules.yaml"));
            assertThat(shipped).contains(MARKER);
            return shipped.replace(MARKER, rules + MARKER);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes the copy's rules file: what a person does in an editor. */
    public void writeRules(String content) {
        try {
            Files.writeString(rulesFile(), content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One rule: when {@code condition}, call {@code method} of the recipients bean ("add(*, 'x')"). */
    public static String rule(String id, String condition, String method) {
        return "              - id: " + id + "\n"
                + "                simple: \"" + condition.replace("\"", "\\\"") + "\"\n"
                + "                steps:\n"
                + "                  - bean:\n"
                + "                      ref: recipients\n"
                + "                      method: \"" + method + "\"\n";
    }
}

package org.mas.broker.console;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;

/** /console/ over plain HTTP: the files from the jar, their types, the security headers, and nothing more. */
class ConsoleResourcesTest {

    @RegisterExtension
    static final RunningBroker broker = RunningBroker.perTestClass(Map.of());

    @Test
    void theConsoleIsServedWithoutAKeyWithAStrictContentSecurityPolicy() throws Exception {
        HttpResponse<String> index = broker.get("/console/", null);
        assertThat(index.statusCode()).isEqualTo(200);
        assertThat(index.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
        assertThat(index.body()).contains("id=\"sign-in-form\"").contains("js/app.js");
        String csp = index.headers().firstValue("Content-Security-Policy").orElseThrow();
        assertThat(csp).contains("default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'",
                "form-action 'none'").doesNotContain("unsafe-inline").doesNotContain("unsafe-eval");
        assertThat(index.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
        assertThat(index.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");

        HttpResponse<String> script = broker.get("/console/js/app.js", null);
        assertThat(script.statusCode()).isEqualTo(200);
        assertThat(script.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).contains("javascript"));
        HttpResponse<String> css = broker.get("/console/console.css", null);
        assertThat(css.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/css"));
    }

    @Test
    void theChartLibraryComesFromItsWebJar() throws Exception {
        HttpResponse<String> uplot = broker.get("/console/lib/uplot/1.6.30/dist/uPlot.iife.min.js", null);
        assertThat(uplot.statusCode()).isEqualTo(200);
        assertThat(uplot.body()).contains("uPlot");
        assertThat(uplot.headers().firstValue("Content-Security-Policy")).isPresent();
    }

    @Test
    void slashlessPathRedirectsAndUnknownFilesAreTheApisJson404() throws Exception {
        HttpResponse<String> bare = broker.get("/console", null);
        assertThat(bare.statusCode()).isEqualTo(302);
        assertThat(bare.headers().firstValue("Location")).hasValue("/console/");

        for (String path : new String[] {"/console/nope.html", "/console/../config/application.properties",
                "/console/%2e%2e/%2e%2e/pom.xml", "/console/lib/uplot/1.6.30/", "/console/js/"}) {
            HttpResponse<String> missing = broker.get(path, null);
            assertThat(missing.statusCode()).as(path).isEqualTo(404);
            assertThat(missing.body()).as(path).contains("\"error\":\"not found\"");
        }
    }

    @Test
    void onlyGetAndHeadAreServed() throws Exception {
        HttpResponse<String> post = broker.send(HttpRequest.newBuilder(broker.uri("/console/index.html"))
                .POST(HttpRequest.BodyPublishers.ofString("{}")).header("Content-Type", "application/json"));
        assertThat(post.statusCode()).isEqualTo(404);
        HttpResponse<String> head = broker.send(HttpRequest.newBuilder(broker.uri("/console/index.html"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertThat(head.statusCode()).isEqualTo(200);
    }
}
